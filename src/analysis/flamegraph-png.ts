import { existsSync } from 'node:fs';
import { renderAsync } from '@resvg/resvg-js';

/** The fonts the flame graph is drawn with (Debian's fonts-dejavu-core). No system font scan. */
export const FLAME_GRAPH_FONTS = [
  '/usr/share/fonts/truetype/dejavu/DejaVuSans.ttf',
  '/usr/share/fonts/truetype/dejavu/DejaVuSans-Bold.ttf',
];

/**
 * SVG -> PNG with resvg, off the main thread (renderAsync runs on libuv's pool). Throws when
 * the font file is missing, naming the package that brings it.
 */
export async function svgToPng(
  svg: string,
  fontFiles: readonly string[] = FLAME_GRAPH_FONTS,
): Promise<Buffer> {
  const present = fontFiles.filter((f) => existsSync(f));
  if (present.length === 0) {
    throw new Error(
      `no font for the flame graph: ${fontFiles.join(', ')} missing (apt-get install fonts-dejavu-core)`,
    );
  }
  const img = await renderAsync(svg, {
    font: { loadSystemFonts: false, fontFiles: present, defaultFontFamily: 'DejaVu Sans' },
    background: '#f8f8f4',
  });
  return img.asPng();
}
