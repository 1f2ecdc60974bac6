import { writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { Resvg } from '@resvg/resvg-js';
import { describe, expect, it } from 'vitest';
import { RUNBOOK_BASELINES } from '../../../src/domain/thresholds.ts';
import { ChartFontError, OutlineFont, outlineText, svgToPng } from '../../../src/lib/charts/png.ts';
import { escapeXml, linearTicks, timeTicks } from '../../../src/lib/charts/svg.ts';
import {
  heatmapColor,
  latencyChartSvg,
  latencyHeatmapSvg,
  trafficChartSvg,
} from '../../../src/steps/latency/chart.ts';

const END = 1772445600;
const W = { start: END - 300, end: END, stepS: 5 };
const pts = (f: (i: number) => number) =>
  Array.from({ length: 61 }, (_, i) => ({ time: W.start + i * 5, value: f(i) }));

/** RGBA of one pixel of a rendered SVG (outlined with the chart font, as svgToPng does). */
function pixels(svg: string): { width: number; at: (x: number, y: number) => [number, number, number] } {
  const img = new Resvg(outlineText(svg, OutlineFont.load()), { font: { loadSystemFonts: false } }).render();
  const data = img.pixels;
  return {
    width: img.width,
    at: (x, y) => {
      const i = (y * img.width + x) * 4;
      return [data[i] as number, data[i + 1] as number, data[i + 2] as number];
    },
  };
}

function pngSize(png: Uint8Array): { width: number; height: number } {
  const view = new DataView(png.buffer, png.byteOffset, png.byteLength);
  return { width: view.getUint32(16), height: view.getUint32(20) };
}

describe('charts', () => {
  it('render P50/P95/P99 over the window as a PNG', async () => {
    const svg = latencyChartSvg(
      { p50: pts(() => 0.02), p95: pts(() => 0.4), p99: pts((i) => (i < 30 ? 0.8 : 2.6)) },
      W,
      RUNBOOK_BASELINES,
      'aegis-api',
    );
    expect(svg).toContain('P99 critical &gt; 2.0 s');
    const png = await svgToPng(svg);
    expect([...png.slice(1, 4)].map((c) => String.fromCharCode(c)).join('')).toBe('PNG');
    expect(pngSize(png)).toEqual({ width: 900, height: 358 });
  });

  it('colour the heatmap by the runbook latency bounds', () => {
    expect(heatmapColor(10)).toBe('#c3e6cb');
    expect(heatmapColor(50)).toBe('#69db7c');
    expect(heatmapColor(499)).toBe('#ffd43b');
    expect(heatmapColor(2000)).toBe('#e03131');
    const svg = latencyHeatmapSvg(
      {
        p50: [{ path: '/api/search', points: pts(() => 1.7) }],
        p95: [{ path: '/api/search', points: pts(() => 2.5) }],
        p99: [{ path: '/api/search', points: pts(() => 2.9) }],
      },
      W,
      'aegis-api',
    );
    const img = pixels(svg);
    // first row (P99 of /api/search) is red, third (P50, 1.7 s) orange
    expect(img.at(500, 60 + 9)).toEqual([0xe0, 0x31, 0x31]);
    expect(img.at(500, 60 + 2 * 18 + 9)).toEqual([0xff, 0x92, 0x2b]);
  });

  it('draw the text with the chart font (outlined glyphs, no <text> left)', () => {
    const svg =
      '<svg xmlns="http://www.w3.org/2000/svg" width="200" height="40"><rect width="100%" height="100%" fill="#fff"/>' +
      '<text x="190" y="30" font-family="DejaVu Sans" font-size="20" fill="#000" text-anchor="end">P99 &lt; 2 s</text></svg>';
    const outlined = outlineText(svg, OutlineFont.load());
    expect(outlined).not.toContain('<text');
    expect(outlined).toMatch(/<defs><path id="g\d+" d="M/);
    const img = pixels(svg);
    let dark = 0;
    for (let x = 0; x < 200; x++) for (let y = 0; y < 40; y++) if (img.at(x, y)[0] < 128) dark++;
    expect(dark).toBeGreaterThan(100);
    // anchored at the end: nothing drawn in the left half
    for (let x = 0; x < 60; x++) for (let y = 0; y < 40; y++) expect(img.at(x, y)).toEqual([255, 255, 255]);
  });

  it('escape endpoint names in the SVG', () => {
    const svg = trafficChartSvg(
      { rateByPath: [{ path: '/<b>&"x"', points: pts(() => 3) }], errorRatio: pts(() => 0.01) },
      W,
      RUNBOOK_BASELINES,
      'aegis-api',
    );
    expect(svg).not.toContain('<b>');
    expect(svg).toContain('/&lt;b&gt;&amp;&quot;x&quot;');
    expect(escapeXml(`<'&">`)).toBe('&lt;&apos;&amp;&quot;&gt;');
  });

  it('say "no data" rather than draw an empty plot', () => {
    expect(latencyChartSvg({ p50: [], p95: [], p99: [] }, W, RUNBOOK_BASELINES, 'aegis-api')).toContain(
      'no data in the window',
    );
    expect(latencyHeatmapSvg({ p50: [], p95: [], p99: [] }, W, 'aegis-api')).toContain(
      'no data in the window',
    );
  });

  it('fail with the font named when the font is missing or not a font', async () => {
    await expect(
      svgToPng('<svg xmlns="http://www.w3.org/2000/svg"/>', { fontFile: '/nonexistent/DejaVuSans.ttf' }),
    ).rejects.toThrow(ChartFontError);
    await expect(
      svgToPng('<svg xmlns="http://www.w3.org/2000/svg"/>', { fontFile: '/nonexistent/DejaVuSans.ttf' }),
    ).rejects.toThrow(/\/nonexistent\/DejaVuSans\.ttf not found/);
    const notAFont = join(tmpdir(), `not-a-font-${process.pid}.ttf`);
    writeFileSync(notAFont, 'hello');
    expect(() => OutlineFont.load(notAFont)).toThrow(/is not a usable font/);
  });

  it('place axis ticks at round values and times', () => {
    expect(linearTicks(0, 2.6)).toEqual([0, 1, 2]);
    expect(linearTicks(0, 0.35)).toEqual([0, 0.1, 0.2, 0.3]);
    expect(linearTicks(0, 100)).toEqual([0, 20, 40, 60, 80, 100]);
    expect(timeTicks(END - 300, END).map((t) => t.label)).toEqual([
      '09:55',
      '09:56',
      '09:57',
      '09:58',
      '09:59',
      '10:00',
    ]);
    expect(timeTicks(END - 60, END).map((t) => t.label)).toEqual([
      '09:59:00',
      '09:59:10',
      '09:59:20',
      '09:59:30',
      '09:59:40',
      '09:59:50',
      '10:00:00',
    ]);
  });
});
