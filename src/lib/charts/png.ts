import { readFileSync } from 'node:fs';
import { createRequire } from 'node:module';

/**
 * SVG to PNG without a browser. Text is outlined here, from one explicit font file, before resvg
 * rasterizes the picture: each glyph becomes a path defined once per picture and placed with <use>,
 * so resvg needs no fonts at all (no system font scan, the same picture on every machine) and a
 * chart renders in about a third of the time resvg's own text layout takes. A missing or unreadable
 * font is a ChartFontError the caller reports (the chart is left out), never a picture without text.
 *
 * The <text> elements are the ones chart-svg.ts writes: x, y, font-size, font-weight, fill and
 * text-anchor attributes, plain character content (XML-escaped), no nested elements.
 */

/** fonts-dejavu-core on Debian. */
export const DEFAULT_FONT_FILE = '/usr/share/fonts/truetype/dejavu/DejaVuSans.ttf';

export class ChartFontError extends Error {
  override name = 'ChartFontError';
}

// The parts of opentype.js (which ships no type declarations) that are used here.
interface OtPath {
  toPathData(decimalPlaces?: number): string;
}
interface OtGlyph {
  readonly index: number;
  readonly advanceWidth?: number;
  getPath(x: number, y: number, fontSize: number): OtPath;
}
interface OtFont {
  readonly unitsPerEm: number;
  charToGlyph(c: string): OtGlyph;
  getKerningValue(left: OtGlyph, right: OtGlyph): number;
}
interface OpenType {
  parse(buffer: ArrayBuffer): OtFont;
}

const require = createRequire(import.meta.url);
const fonts = new Map<string, OutlineFont>();

/** A parsed font with a cache of glyph outlines (path data in font units, y down). */
export class OutlineFont {
  readonly file: string;
  private readonly font: OtFont;
  private readonly glyphs = new Map<
    string,
    { index: number; advance: number; path: string; glyph: OtGlyph }
  >();

  private constructor(file: string, font: OtFont) {
    this.file = file;
    this.font = font;
  }

  /** Parses the font file once per process; throws ChartFontError when it is missing or not a font. */
  static load(file: string = DEFAULT_FONT_FILE): OutlineFont {
    const cached = fonts.get(file);
    if (cached) return cached;
    let bytes: Buffer;
    try {
      bytes = readFileSync(file);
    } catch (e) {
      const code = (e as NodeJS.ErrnoException).code ?? 'unreadable';
      throw new ChartFontError(`chart font ${file} not found (${code}): install fonts-dejavu-core`);
    }
    let font: OtFont;
    try {
      const opentype = require('opentype.js') as OpenType;
      font = opentype.parse(
        bytes.buffer.slice(bytes.byteOffset, bytes.byteOffset + bytes.byteLength) as ArrayBuffer,
      );
    } catch (e) {
      throw new ChartFontError(`chart font ${file} is not a usable font: ${(e as Error).message}`);
    }
    const loaded = new OutlineFont(file, font);
    fonts.set(file, loaded);
    return loaded;
  }

  get unitsPerEm(): number {
    return this.font.unitsPerEm;
  }

  glyph(ch: string): { index: number; advance: number; path: string; glyph: OtGlyph } {
    let g = this.glyphs.get(ch);
    if (!g) {
      const glyph = this.font.charToGlyph(ch);
      g = {
        index: glyph.index,
        advance: glyph.advanceWidth ?? this.font.unitsPerEm / 2,
        path: glyph.getPath(0, 0, this.font.unitsPerEm).toPathData(0),
        glyph,
      };
      this.glyphs.set(ch, g);
    }
    return g;
  }

  kerning(left: OtGlyph, right: OtGlyph): number {
    return this.font.getKerningValue(left, right) || 0;
  }
}

const ENTITIES: Record<string, string> = { lt: '<', gt: '>', amp: '&', quot: '"', apos: "'" };

function unescapeXml(text: string): string {
  return text.replace(/&(lt|gt|amp|quot|apos);/g, (_m, name: string) => ENTITIES[name] as string);
}

/** Replaces every <text> element with outlined glyphs (defined once in <defs>, placed with <use>). */
export function outlineText(svg: string, font: OutlineFont): string {
  const defs = new Map<number, string>();
  const out = svg.replace(/<text\b([^>]*)>([^<]*)<\/text>/g, (_m, rawAttrs: string, rawContent: string) => {
    const attrs: Record<string, string> = {};
    for (const a of rawAttrs.matchAll(/([\w-]+)="([^"]*)"/g)) attrs[a[1] as string] = a[2] as string;
    const content = unescapeXml(rawContent);
    const size = Number(attrs['font-size'] ?? 12);
    const scale = size / font.unitsPerEm;
    let advance = 0;
    let previous: ReturnType<OutlineFont['glyph']> | undefined;
    const uses: string[] = [];
    for (const ch of content) {
      const g = font.glyph(ch);
      if (previous) advance += font.kerning(previous.glyph, g.glyph);
      if (g.path) {
        if (!defs.has(g.index)) defs.set(g.index, `<path id="g${g.index}" d="${g.path}"/>`);
        uses.push(`<use href="#g${g.index}" x="${advance}"/>`);
      }
      advance += g.advance;
      previous = g;
    }
    const width = advance * scale;
    const anchor = attrs['text-anchor'];
    const dx = anchor === 'end' ? -width : anchor === 'middle' ? -width / 2 : 0;
    const x = Number(attrs.x ?? 0) + dx;
    const y = Number(attrs.y ?? 0);
    const fill = attrs.fill ?? '#000';
    // Bold: the regular outlines with a stroke of their own colour.
    const bold =
      attrs['font-weight'] === 'bold'
        ? ` stroke="${fill}" stroke-width="${Math.round(font.unitsPerEm / 40)}"`
        : '';
    return `<g fill="${fill}"${bold} transform="translate(${x.toFixed(2)} ${y.toFixed(2)}) scale(${scale.toFixed(6)})">${uses.join('')}</g>`;
  });
  if (defs.size === 0) return out;
  return out.replace(/(<svg\b[^>]*>)/, `$1\n<defs>${[...defs.values()].join('')}</defs>`);
}

export interface RasterizeOptions {
  /** The font to outline text with; default DEFAULT_FONT_FILE. */
  readonly fontFile?: string;
  readonly signal?: AbortSignal;
  /** Output width in pixels; default: the SVG's own width. */
  readonly width?: number;
}

/** Loads (and caches) the chart font ahead of use, so the first chart does not pay for parsing it. */
export function preloadChartFont(fontFile: string = DEFAULT_FONT_FILE): void {
  OutlineFont.load(fontFile);
}

/** Renders an SVG string to PNG bytes; rasterizing runs on the libuv thread pool. */
export async function svgToPng(svg: string, options: RasterizeOptions = {}): Promise<Uint8Array> {
  const font = OutlineFont.load(options.fontFile ?? DEFAULT_FONT_FILE);
  const outlined = outlineText(svg, font);
  options.signal?.throwIfAborted();
  // resvg-js' own AbortSignal support rejects with an empty error for a standard AbortSignal:
  // the signal is checked before and after instead (a render takes tens of milliseconds).
  // resvg's native module is loaded with the first chart, not with the process
  const { renderAsync } = await import('@resvg/resvg-js');
  const image = await renderAsync(outlined, {
    font: { loadSystemFonts: false },
    fitTo: options.width ? { mode: 'width', value: options.width } : { mode: 'original' },
    background: '#ffffff',
    logLevel: 'off',
  });
  options.signal?.throwIfAborted();
  return new Uint8Array(image.asPng());
}
