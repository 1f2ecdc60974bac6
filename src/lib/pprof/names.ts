/**
 * What a Go function name says about where the code lives: the runtime, the standard library,
 * or the application (which is what a finding should name as the caller).
 */

/** Top-level directories of Go's standard library (go/src), as of Go 1.23. */
const STDLIB_ROOTS = new Set([
  'archive',
  'bufio',
  'builtin',
  'bytes',
  'cmp',
  'compress',
  'container',
  'context',
  'crypto',
  'database',
  'debug',
  'embed',
  'encoding',
  'errors',
  'expvar',
  'flag',
  'fmt',
  'go',
  'hash',
  'html',
  'image',
  'index',
  'internal',
  'io',
  'iter',
  'log',
  'maps',
  'math',
  'mime',
  'net',
  'os',
  'path',
  'plugin',
  'reflect',
  'regexp',
  'runtime',
  'slices',
  'sort',
  'strconv',
  'strings',
  'structs',
  'sync',
  'syscall',
  'testing',
  'text',
  'time',
  'unicode',
  'unique',
  'unsafe',
  'vendor',
  'weak',
]);

/** The package path of a Go function name: "encoding/json.(*encodeState).marshal" -> "encoding/json". */
export function goPackage(name: string): string {
  const slash = name.lastIndexOf('/', name.indexOf('(') >= 0 ? name.indexOf('(') : name.length);
  const dot = name.indexOf('.', slash + 1);
  return dot < 0 ? name : name.slice(0, dot);
}

export function isRuntimeFunction(name: string): boolean {
  return (
    name.startsWith('runtime.') ||
    name.startsWith('runtime/internal/') ||
    name.startsWith('internal/runtime/')
  );
}

export function isStdlibFunction(name: string): boolean {
  const pkg = goPackage(name);
  const root = pkg.split('/')[0] ?? pkg;
  return STDLIB_ROOTS.has(root) || pkg.startsWith('golang.org/x/') || pkg.startsWith('vendor/');
}

/** Application code: neither the standard library nor the runtime, nor a placeholder like "[binary]". */
export function isAppFunction(name: string): boolean {
  return !isStdlibFunction(name) && !name.startsWith('[') && !name.startsWith('<');
}
