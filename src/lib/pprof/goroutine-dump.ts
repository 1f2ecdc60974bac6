import { AppError } from '../../domain/errors.ts';

/**
 * Goroutine dumps as /debug/pprof/goroutine serves them: debug=2 (every goroutine, with its wait
 * reason, minutes waited and "created by") and debug=1 (goroutines grouped by identical stack,
 * with counts). Both become groups of goroutines with identical stacks. One pass over the text,
 * no regular expression per line on the hot path: 100,000 goroutines group in well under a second.
 */

export interface GoroutineFrame {
  /** Function name without arguments, e.g. "main.(*worker).run". */
  readonly function: string;
  /** "path/file.go:123", or "" when the dump has none. */
  readonly location: string;
}

export interface GoroutineGroup {
  readonly count: number;
  /** Wait reason ("chan receive", "select", "semacquire", "IO wait", "running" ...). */
  readonly state: string;
  /** Minutes waited, when the dump shows them (debug=2 shows minutes after the first). */
  readonly minMinutes?: number;
  readonly maxMinutes?: number;
  readonly lockedToThread: boolean;
  /** Leaf first. */
  readonly frames: readonly GoroutineFrame[];
  /** The function whose `go` statement started these goroutines (debug=2 only). */
  readonly createdBy?: GoroutineFrame;
  /** A few goroutine ids of the group (debug=2 only). */
  readonly sampleIds: readonly number[];
}

export interface GoroutineDump {
  readonly format: 'debug=1' | 'debug=2';
  readonly total: number;
  /** Largest group first. */
  readonly groups: readonly GoroutineGroup[];
}

export function detectDumpFormat(head: string): 'debug=1' | 'debug=2' | undefined {
  const t = head.replace(/^\uFEFF/, '').trimStart();
  if (t.startsWith('goroutine profile: total ')) return 'debug=1';
  if (/^goroutine \d+ .*\[/.test(t)) return 'debug=2';
  return undefined;
}

export function parseGoroutineDump(text: string): GoroutineDump {
  const format = detectDumpFormat(text.slice(0, 200));
  if (format === 'debug=1') return parseDebug1(text);
  if (format === 'debug=2') return parseDebug2(text);
  throw new AppError(
    'usage',
    'not a goroutine dump: expected "goroutine profile: total N" (debug=1) or "goroutine N [state]:" (debug=2) at the start',
  );
}

interface MutableGroup {
  count: number;
  state: string;
  minMinutes?: number;
  maxMinutes?: number;
  lockedToThread: boolean;
  frames: GoroutineFrame[];
  createdBy?: GoroutineFrame;
  sampleIds: number[];
}

/** "main.work(0xc000012345, 0x1)" -> "main.work"; "main.(*T).m(...)" -> "main.(*T).m". */
export function stripArgs(line: string): string {
  const s = line.trimEnd();
  if (!s.endsWith(')')) return s;
  let depth = 0;
  for (let i = s.length - 1; i >= 0; i--) {
    const c = s.charCodeAt(i);
    if (c === 41) depth++;
    else if (c === 40) {
      depth--;
      if (depth === 0) return s.slice(0, i);
    }
  }
  return s;
}

/** "\t/src/x.go:12 +0x1d" -> "/src/x.go:12". */
function frameLocation(line: string): string {
  const t = line.trim();
  const sp = t.lastIndexOf(' +0x');
  return sp >= 0 ? t.slice(0, sp) : t;
}

function parseDebug2(text: string): GoroutineDump {
  const groups = new Map<string, MutableGroup>();
  let total = 0;
  const n = text.length;
  let pos = 0;
  const nextLine = (): string | null => {
    if (pos >= n) return null;
    let e = text.indexOf('\n', pos);
    if (e < 0) e = n;
    let line = text.slice(pos, e);
    if (line.endsWith('\r')) line = line.slice(0, -1);
    pos = e + 1;
    return line;
  };
  let line = nextLine();
  while (line !== null) {
    if (!line.startsWith('goroutine ')) {
      line = nextLine();
      continue;
    }
    const open = line.indexOf('[');
    const close = line.lastIndexOf(']');
    if (open < 0 || close < open) {
      line = nextLine();
      continue;
    }
    const id = Number.parseInt(line.slice(10), 10);
    const parts = line.slice(open + 1, close).split(', ');
    let state = parts[0] ?? '';
    let minutes: number | undefined;
    let locked = false;
    for (let i = 1; i < parts.length; i++) {
      const p = parts[i] as string;
      if (p.endsWith(' minutes')) minutes = Number.parseInt(p, 10);
      else if (p === 'locked to thread') locked = true;
      else if (p && !/^\d/.test(p)) state += `, ${p}`;
    }
    const frames: GoroutineFrame[] = [];
    let createdBy: GoroutineFrame | undefined;
    let keyParts = `${state}\u0001`;
    line = nextLine();
    while (line !== null && line !== '' && !line.startsWith('goroutine ')) {
      if (line.startsWith('\t') || line.startsWith(' ')) {
        line = nextLine();
        continue;
      }
      if (line.startsWith('...')) {
        keyParts += '...\u0001';
        line = nextLine();
        continue;
      }
      const isCreated = line.startsWith('created by ');
      let fn = isCreated ? line.slice(11) : stripArgs(line);
      if (isCreated) {
        const inG = fn.indexOf(' in goroutine ');
        if (inG >= 0) fn = fn.slice(0, inG);
      }
      const loc = nextLine();
      let location = '';
      if (loc !== null && (loc.startsWith('\t') || loc.startsWith(' '))) {
        location = frameLocation(loc);
        line = nextLine();
      } else {
        line = loc;
      }
      const frame = { function: fn, location };
      if (isCreated) createdBy = frame;
      else frames.push(frame);
      keyParts += `${isCreated ? 'created by ' : ''}${fn} ${location}\u0001`;
    }
    total++;
    let g = groups.get(keyParts);
    if (!g) {
      g = { count: 0, state, lockedToThread: locked, frames, sampleIds: [] };
      if (createdBy) g.createdBy = createdBy;
      groups.set(keyParts, g);
    }
    g.count++;
    if (g.sampleIds.length < 5 && Number.isFinite(id)) g.sampleIds.push(id);
    if (minutes !== undefined) {
      g.minMinutes = g.minMinutes === undefined ? minutes : Math.min(g.minMinutes, minutes);
      g.maxMinutes = g.maxMinutes === undefined ? minutes : Math.max(g.maxMinutes, minutes);
    }
    if (locked) g.lockedToThread = true;
  }
  return { format: 'debug=2', total, groups: sortGroups(groups) };
}

function parseDebug1(text: string): GoroutineDump {
  const lines = text.split('\n');
  const headerTotal = Number.parseInt(
    (lines[0] ?? '')
      .replace(/^\uFEFF/, '')
      .trim()
      .slice('goroutine profile: total '.length),
    10,
  );
  const groups = new Map<string, MutableGroup>();
  let counted = 0;
  let i = 1;
  while (i < lines.length) {
    const line = (lines[i] as string).trimEnd();
    const at = line.indexOf(' @ ');
    if (at < 0 || !/^\d+$/.test(line.slice(0, at))) {
      i++;
      continue;
    }
    const count = Number(line.slice(0, at));
    const frames: GoroutineFrame[] = [];
    i++;
    while (i < lines.length && (lines[i] as string).startsWith('#')) {
      const l = (lines[i] as string).trimEnd();
      i++;
      if (l.startsWith('# labels:')) continue;
      // "#\t0x4a0e84\tmain.blockedReceiver+0x24\t/path/main.go:128"
      const cols = l.split(/\t+/);
      if (cols.length < 3) continue;
      const fnCol = cols[2] as string;
      const plus = fnCol.lastIndexOf('+0x');
      frames.push({ function: plus >= 0 ? fnCol.slice(0, plus) : fnCol, location: (cols[3] ?? '').trim() });
    }
    counted += count;
    const state = inferState(frames);
    const key = frames.map((f) => `${f.function} ${f.location}`).join('\u0001');
    const g = groups.get(key);
    if (g) g.count += count;
    else groups.set(key, { count, state, lockedToThread: false, frames, sampleIds: [] });
  }
  return {
    format: 'debug=1',
    total: Number.isFinite(headerTotal) ? headerTotal : counted,
    groups: sortGroups(groups),
  };
}

function sortGroups(groups: Map<string, MutableGroup>): GoroutineGroup[] {
  return [...groups.values()].sort(
    (a, b) => b.count - a.count || (a.frames[0]?.function ?? '').localeCompare(b.frames[0]?.function ?? ''),
  );
}

/** The wait reason a debug=1 stack implies (debug=1 has no header; its frames include the runtime's). */
export function inferState(frames: readonly GoroutineFrame[]): string {
  for (const f of frames) {
    switch (f.function) {
      case 'runtime.chanrecv':
      case 'runtime.chanrecv1':
      case 'runtime.chanrecv2':
        return 'chan receive';
      case 'runtime.chansend':
      case 'runtime.chansend1':
        return 'chan send';
      case 'runtime.selectgo':
        return 'select';
      case 'runtime.block':
        return 'select (no cases)';
      case 'sync.(*Mutex).Lock':
      case 'sync.(*Mutex).lockSlow':
        return 'sync.Mutex.Lock';
      case 'sync.(*RWMutex).Lock':
        return 'sync.RWMutex.Lock';
      case 'sync.(*RWMutex).RLock':
        return 'sync.RWMutex.RLock';
      case 'sync.(*WaitGroup).Wait':
        return 'sync.WaitGroup.Wait';
      case 'sync.(*Cond).Wait':
        return 'sync.Cond.Wait';
      case 'internal/poll.runtime_pollWait':
        return 'IO wait';
      case 'time.Sleep':
        return 'sleep';
      case 'runtime.goparkunlock':
      case 'runtime.gopark':
        continue;
      default:
        if (f.function.startsWith('syscall.') || f.function.startsWith('runtime/internal/syscall.'))
          return 'syscall';
    }
  }
  if (frames.some((f) => f.function.startsWith('runtime/pprof.'))) return 'running';
  // debug=1 hides the runtime's frames: a goroutine parked in a channel operation shows only its own.
  return 'unknown';
}

/** Kinds of waiting the detectors care about. */
export function isChannelWait(state: string): boolean {
  return state.startsWith('chan receive') || state.startsWith('chan send') || state.startsWith('select');
}

/** debug=1 dumps carry no state; a goroutine parked on a channel there shows as "unknown". */
export function isUnknownWait(state: string): boolean {
  return state === 'unknown';
}

export function isMutexWait(group: GoroutineGroup): boolean {
  if (/^(sync\.(RW)?Mutex\.R?Lock|semacquire)/.test(group.state)) {
    return group.frames.some((f) => /^sync\.\(\*(RW)?Mutex\)\.(R?Lock|lockSlow)$/.test(f.function));
  }
  return false;
}

/** The goroutines' own function: the outermost frame (the function `go` started). */
export function entryFunction(group: GoroutineGroup): string {
  return group.frames[group.frames.length - 1]?.function ?? '?';
}
