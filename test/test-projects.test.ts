/**
 * The unit project must pass on a machine with only Node and npm. A test file that needs an outside
 * program (the Go test bed, Prometheus, PostgreSQL, redis-server, chromium, go itself) or a system
 * file (fonts, /usr/lib/postgresql) belongs in the integration project: it is named *.int.test.ts.
 * This test reads every unit-project file and the test helpers it imports, and names the ones that
 * give themselves away. (scripts/test-unit-isolated.sh runs the unit project with those programs
 * hidden, which also catches what a reading cannot.)
 */
import fs from 'node:fs';
import path from 'node:path';
import { fileURLToPath } from 'node:url';
import { describe, expect, it } from 'vitest';
import { INTEGRATION_GLOB, UNIT_GLOB } from '../vitest.config.ts';

const ROOT = fileURLToPath(new URL('..', import.meta.url));

/** Test helpers that start or need outside programs, and what they need. */
const INTEGRATION_HELPERS: Record<string, string> = {
  'test/support/testbed.ts': 'the Go test bed, Prometheus and PostgreSQL (test/support/testbed.ts)',
  'test/support/redis.ts': 'redis-server (test/support/redis.ts)',
  'src/lib/charts/png.ts': 'the DejaVu font of fonts-dejavu-core (src/lib/charts/png.ts)',
};

/** What a file's own text shows it needs. */
const TEXT_SIGNS: { sign: RegExp; needs: string }[] = [
  { sign: /\binject\(\s*['"]testbed['"]/, needs: 'the integration global setup (inject of testbed)' },
  { sign: /from\s+['"]playwright(-core)?['"]/, needs: 'chromium (playwright-core)' },
  {
    sign: /\b(spawn|spawnSync|execFile|execFileSync|execFileAsync|execSync)\(\s*['"`](?!\/bin\/(ba)?sh['"`])/,
    needs: 'a program run by name (unit tests run only process.execPath, /bin/sh and /bin/bash)',
  },
  { sign: /['"`]\/usr\/(lib|share|bin|local)\//, needs: 'a system file under /usr' },
];

const IMPORT =
  /(?:import|export)\s[^'"]*?from\s+['"](\.{1,2}\/[^'"]+)['"]|import\(\s*['"](\.{1,2}\/[^'"]+)['"]\s*\)/g;

function relativeImports(file: string, text: string): string[] {
  const found: string[] = [];
  for (const m of text.matchAll(IMPORT)) {
    const spec = m[1] ?? m[2];
    if (spec) found.push(path.relative(ROOT, path.resolve(path.dirname(path.join(ROOT, file)), spec)));
  }
  return found;
}

/** What `file` needs from outside Node, following its relative imports within test/. */
function outsideNeeds(file: string): string[] {
  const needs = new Set<string>();
  const seen = new Set<string>();
  const visit = (f: string, importer: string) => {
    if (seen.has(f)) return;
    seen.add(f);
    const helper = INTEGRATION_HELPERS[f];
    if (helper) {
      needs.add(`${helper}, imported by ${importer}`);
      return;
    }
    if (!f.startsWith('test/')) return; // src/ is left to the isolated run
    const text = fs.readFileSync(path.join(ROOT, f), 'utf8');
    for (const { sign, needs: what } of TEXT_SIGNS) if (sign.test(text)) needs.add(`${what} in ${f}`);
    for (const imported of relativeImports(f, text)) visit(imported, f);
  };
  visit(file, file);
  return [...needs];
}

function files(glob: string): string[] {
  return fs.globSync(glob, { cwd: ROOT }).sort();
}

describe('the unit and integration projects', () => {
  const integration = new Set(files(INTEGRATION_GLOB));
  const unit = files(UNIT_GLOB).filter((f) => !integration.has(f));

  it('split the test files between them, both non-empty', () => {
    expect(unit.length).toBeGreaterThan(0);
    expect(integration.size).toBeGreaterThan(0);
  });

  it('keep every file that needs an outside program or system file out of the unit project', () => {
    const offenders = unit
      .map((f) => ({ file: f, needs: outsideNeeds(f) }))
      .filter((o) => o.needs.length > 0)
      .map((o) => `${o.file} needs ${o.needs.join('; ')}: rename it to *.int.test.ts`);
    expect(offenders).toEqual([]);
  });

  it('recognise what the integration files need (the reading is not blind)', () => {
    expect(outsideNeeds('test/testbed.int.test.ts').join('\n')).toMatch(/inject of testbed/);
    expect(outsideNeeds('test/sources/redis.int.test.ts').join('\n')).toMatch(/redis-server/);
    expect(outsideNeeds('test/console/e2e.int.test.ts').join('\n')).toMatch(/chromium/);
    expect(outsideNeeds('test/lib/pprof/top.int.test.ts').join('\n')).toMatch(
      /program run by name .* in test\/steps\/profiling\/go-pprof.ts/,
    );
    expect(outsideNeeds('test/steps/latency/chart.int.test.ts').join('\n')).toMatch(/fonts-dejavu-core/);
  });
});
