import { describe, expect, it } from 'vitest';
import { AppError } from '../../../src/domain/errors.ts';
import { decodeProfileProto } from '../../../src/lib/pprof/decode.ts';
import { encodeProfile } from '../../../src/lib/pprof/encode.ts';
import { listFunctions } from '../../../src/lib/pprof/list.ts';
import { goPattern, quotePattern } from '../../../src/lib/pprof/pattern.ts';
import { analyzeProfile, topReport } from '../../../src/lib/pprof/top.ts';
import { BACKTRACKING_BOMB, manyLongNamesSpec } from './long-names.ts';

describe('user-supplied list patterns', () => {
  const profile = decodeProfileProto(encodeProfile(manyLongNamesSpec(5000)));

  it('run in a linear-time engine: the backtracking bomb over 5,000 long names finds just main.handleQ', () => {
    const report = listFunctions(profile, BACKTRACKING_BOMB);
    expect(report.functions.map((f) => f.name)).toEqual(['main.handleQ']);
    expect(report.functions[0]?.lines).toEqual([{ line: 10 + (5001 % 7), flat: 1e7, cum: 1e7 }]);
  });

  it('match anywhere in the name, as go tool pprof -list does', () => {
    const report = listFunctions(profile, 'serveHistoryPage_499\\b');
    expect(report.functions.map((f) => f.name)).toEqual([
      'github.com/cloud-aegis/aegis-api/internal/handlers/orders/v2.(*OrderHistoryHandler).serveHistoryPage_499.func1',
    ]);
  });

  it('refuse a backreference with a usage message naming RE2', () => {
    const e = catchError(() => listFunctions(profile, '(a)\\1'));
    expect(e).toBeInstanceOf(AppError);
    expect((e as AppError).code).toBe('usage');
    expect((e as AppError).message).toMatch(
      /^the list pattern "\(a\)\\1" is not valid RE2 syntax .*no backreferences or lookaround.*invalid escape sequence/,
    );
  });

  it('refuse lookahead and lookbehind with a usage message', () => {
    for (const p of ['main(?=\\.)', '(?<!x)main', '(?!runtime)']) {
      const e = catchError(() => goPattern(p, 'list pattern'));
      expect(e).toBeInstanceOf(AppError);
      expect((e as AppError).code).toBe('usage');
      expect((e as AppError).message).toMatch(/is not valid RE2 syntax/);
    }
  });

  it('take RE2 syntax JavaScript lacks, as Go does', () => {
    expect(goPattern('\\Qmain.(*T)\\E', 'list pattern').test('x main.(*T).f')).toBe(true);
    expect(goPattern('(?i)MAIN\\.HANDLEQ', 'list pattern').test('main.handleQ')).toBe(true);
    expect(goPattern('[[:upper:]]$', 'list pattern').test('main.handleQ')).toBe(true);
  });

  it('quote a name so that it matches only itself', () => {
    const name = 'main.(*T).f[1]$+?{2}|^\\';
    const rx = goPattern(`^${quotePattern(name)}$`, 'list pattern');
    expect(rx.test(name)).toBe(true);
    expect(rx.test(`${name}x`)).toBe(false);
    expect(rx.test('mainx(*T).f[1]$+?{2}|^\\')).toBe(false);
  });
});

describe("a profile's own drop_frames pattern", () => {
  const rows = (dropFrames: string) =>
    topReport(analyzeProfile(decodeProfileProto(encodeProfile(manyLongNamesSpec(150, { dropFrames })))), {
      nodeCount: 0,
    }).rows.map((r) => `${r.name} ${r.flat} ${r.cum}`);

  it('is compiled by the same linear-time engine: the bomb prunes what main\\.handleQ prunes', () => {
    // Anchored by pprof (^(...)$), the bomb matches main.handleQ alone among the long names (150,
    // so that each stays above pprof's default node fraction of 0.5%).
    const bomb = rows(BACKTRACKING_BOMB);
    expect(bomb).toEqual(rows('main\\.handleQ'));
    expect(bomb).toHaveLength(151);
    expect(bomb).toContain('main.main 10000000 10000000');
  });

  it('refuses Perl-only syntax with a usage message naming drop_frames', () => {
    const profile = decodeProfileProto(encodeProfile(manyLongNamesSpec(3, { dropFrames: '(a)\\1' })));
    expect(() => analyzeProfile(profile)).toThrow(/profile's drop_frames pattern .* is not valid RE2 syntax/);
  });
});

function catchError(f: () => unknown): unknown {
  try {
    f();
  } catch (e) {
    return e;
  }
  throw new Error('expected an error');
}
