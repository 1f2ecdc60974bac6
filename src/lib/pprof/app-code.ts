import type { Profile } from './decode.ts';
import { goPackage, isStdlibFunction } from './names.ts';

/**
 * Which functions of a profile are the service's own code: function-name prefixes, given
 * (configuration) or derived from the profile. Not the service's own: the runtime and the standard
 * library, placeholders ("[binary]", "<unknown>"), vendored packages (".../vendor/...") and
 * dependencies built from the module cache (source file under ".../pkg/mod/" or "module@vX").
 */

/** The module a function belongs to, as a name prefix: "main." for package main, else a module path. */
export function moduleOf(name: string): string {
  const pkg = goPackage(name);
  if (pkg === 'main') return 'main.';
  const parts = pkg.split('/');
  const host = parts[0] ?? '';
  // github.com/owner/repo; other hosts (go.uber.org/zap, k8s.io/client-go) owner-less;
  // a local module name without a dot ("aegis-api/internal/x") is its first element.
  const n = host.includes('.') ? (/^(github\.com|gitlab\.com|bitbucket\.org)$/.test(host) ? 3 : 2) : 1;
  return parts.slice(0, n).join('/');
}

/** True when `name` lies under `prefix`: "main." covers main.*, "github.com/a/b" covers b.* and b/… */
export function underPrefix(name: string, prefix: string): boolean {
  if (!name.startsWith(prefix)) return false;
  if (prefix.endsWith('.') || prefix.endsWith('/')) return true;
  const next = name[prefix.length];
  return next === '.' || next === '/';
}

function isVendored(name: string): boolean {
  return goPackage(name).includes('/vendor/');
}

/** A source file of a dependency: from the module cache, or vendored. */
export function isDependencyFile(file: string): boolean {
  return /\/pkg\/mod\/|@v\d|(^|\/)vendor\//.test(file);
}

/** Not the service's code whatever the prefix says: runtime, standard library, vendored, placeholders. */
export function canBeAppCode(name: string): boolean {
  return !isStdlibFunction(name) && !name.startsWith('[') && !name.startsWith('<') && !isVendored(name);
}

export interface AppCode {
  readonly prefixes: readonly string[];
  /** True when derived from the profile (no configured prefixes). */
  readonly derived: boolean;
  readonly test: (name: string) => boolean;
}

/**
 * The service's code: the configured prefixes, or else the module with the most sampled functions
 * built from the service's own source tree (not the module cache, not vendor/), weighted next by
 * their cum; "main." is added when package main has sampled functions (a module's commands).
 */
export function appCode(
  profile: Profile,
  sampled: readonly { name: string; cum: number }[],
  configured?: readonly string[],
): AppCode {
  const make = (prefixes: readonly string[], derived: boolean): AppCode => ({
    prefixes,
    derived,
    test: (name) => canBeAppCode(name) && prefixes.some((p) => underPrefix(name, p)),
  });
  if (configured && configured.length > 0) return make(configured, false);
  const fileOf = new Map<string, string>();
  for (const f of profile.functions) if (f.name && !fileOf.has(f.name)) fileOf.set(f.name, f.filename);
  const modules = new Map<string, { count: number; cum: number }>();
  for (const s of sampled) {
    if (s.cum === 0 || !canBeAppCode(s.name)) continue;
    if (isDependencyFile(fileOf.get(s.name) ?? '')) continue;
    const m = moduleOf(s.name);
    const x = modules.get(m) ?? { count: 0, cum: 0 };
    x.count++;
    x.cum += Math.abs(s.cum);
    modules.set(m, x);
  }
  const ranked = [...modules.entries()].sort(
    (a, b) => b[1].count - a[1].count || b[1].cum - a[1].cum || (a[0] < b[0] ? -1 : 1),
  );
  const top = ranked[0]?.[0];
  if (!top) return make([], true);
  const prefixes = top !== 'main.' && modules.has('main.') ? [top, 'main.'] : [top];
  return make(prefixes, true);
}
