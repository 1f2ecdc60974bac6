import type { ServerResponse } from 'node:http';
import { HttpError } from './http.ts';
import type { EmulatedFile } from './slack-api-emulator.ts';

/**
 * GET /console/files/<id>/<name>: a file the bot uploaded, sandboxed; images and text shown inline,
 * anything else downloaded.
 */
export function serveFile(res: ServerResponse, files: ReadonlyMap<string, EmulatedFile>, id: string): void {
  const f = files.get(id);
  if (!f) throw new HttpError(404, 'no such file');
  res.writeHead(200, {
    'content-type': contentTypeOf(f.name),
    'content-length': f.content.length,
    'cache-control': 'no-store',
    'x-content-type-options': 'nosniff',
    'content-security-policy': "default-src 'none'; sandbox",
    'content-disposition': `${/\.(png|jpe?g|gif|webp|txt)$/i.test(f.name) ? 'inline' : 'attachment'}; filename="${f.name.replace(/[^A-Za-z0-9._-]/g, '_')}"`,
  });
  res.end(f.content);
}

function contentTypeOf(name: string): string {
  const ext = /\.([a-z0-9]+)$/i.exec(name)?.[1]?.toLowerCase();
  switch (ext) {
    case 'png':
      return 'image/png';
    case 'jpg':
    case 'jpeg':
      return 'image/jpeg';
    case 'gif':
      return 'image/gif';
    case 'webp':
      return 'image/webp';
    case 'txt':
    case 'log':
      return 'text/plain; charset=utf-8';
    case 'json':
      return 'application/json';
    case 'svg':
      return 'image/svg+xml';
    default:
      return 'application/octet-stream';
  }
}
