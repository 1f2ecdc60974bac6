import type { Evidence, Finding } from '../../domain/finding.ts';
import { worstFirstHeadline } from '../../domain/report.ts';
import { humanDuration } from '../../lib/format.ts';
import type { Profile } from '../../lib/pprof/decode.ts';
import {
  entryFunction,
  type GoroutineDump,
  type GoroutineGroup,
  isChannelWait,
  isMutexWait,
  isUnknownWait,
} from '../../lib/pprof/goroutine-dump.ts';
import { buildFunctionGraph, sampleIndexByName } from '../../lib/pprof/graph.ts';
import { isAppFunction, isRuntimeFunction } from '../../lib/pprof/names.ts';

/**
 * The runbook's Step 5 issues over goroutine dumps: the total and its growth between two
 * samples, groups of identical stacks, goroutine leaks (many goroutines blocked on channels or in
 * select, long or still growing; named by the function that started them), and mutex contention
 * (from the mutex profile's delay between two samples, or goroutines queued on a sync.Mutex).
 */

export interface GoroutineDetectorOptions {
  /** A group of channel waiters is a leak suspect from this many goroutines on. */
  readonly leakMinCount?: number;
  /** ... when they have waited this many minutes (debug=2 shows minutes), */
  readonly leakMinutes?: number;
  /** ... or when the group grew by this many between the two samples, */
  readonly leakGrowth?: number;
  /** ... or, whatever their age, when there are this many. */
  readonly leakLargeCount?: number;
  /** Total growth between the samples that is worth a finding. */
  readonly growthMin?: number;
  /** Goroutines queued on one mutex in a sample that count as contention. */
  readonly mutexMinWaiting?: number;
  /** Mutex wait time per wall-clock time (from the mutex profile) that counts as contention. */
  readonly mutexDelayRatio?: number;
}

const DEFAULTS: Required<GoroutineDetectorOptions> = {
  leakMinCount: 50,
  leakMinutes: 10,
  leakGrowth: 10,
  leakLargeCount: 1000,
  growthMin: 50,
  mutexMinWaiting: 5,
  mutexDelayRatio: 0.01,
};

export const GOROUTINE_ADVICE = {
  leak: {
    quickFix: [
      'Attach goroutines.txt (the full dump) to the ticket for the owners; restarting the pod frees the goroutines but the leak comes back',
    ],
    longTerm: [
      "Pass a context and return on ctx.Done(): missing context cancellation is the runbook's first goroutine issue",
      'Give every goroutine an exit path: close the channel, or select on the channel and ctx.Done() (runbook: blocking on channels)',
      'Configure goroutine limits (runbook checklist, application layer)',
    ],
  },
  mutex: {
    quickFix: [
      'Scale horizontally to spread the load while the lock is fixed: kubectl scale deployment aegis-api -n aegis --replicas=5',
    ],
    longTerm: [
      'Hold the lock for less: move work out of the critical section (runbook: mutex contention)',
      'Shard the lock or the data it guards; use sync.RWMutex for read-mostly data, atomics for counters',
    ],
  },
  growth: {
    quickFix: [
      'Watch the count: take another sample with /aegis goroutines; a count that keeps growing is a leak',
    ],
    longTerm: [
      'Configure goroutine limits (runbook checklist, application layer)',
      'Cancel work with context when the request ends',
    ],
  },
};

/** Mutex profile by contention site: the first frame that is not sync/runtime, from the leaf. */
export interface MutexSite {
  readonly site: string;
  readonly contentions: number;
  readonly delayNs: number;
}

export function mutexSites(profile: Profile): MutexSite[] {
  if (profile.sampleCount === 0) return [];
  const graph = buildFunctionGraph(profile);
  const iDelay = sampleIndexByName(profile, 'delay');
  const iCount = sampleIndexByName(profile, 'contentions');
  const stride = profile.sampleTypes.length;
  const by = new Map<string, { c: number; d: number }>();
  const { stackStart, stack, values, sampleCount } = profile;
  const { locNodeStart, locNodes, names } = graph;
  for (let s = 0; s < sampleCount; s++) {
    let site = '';
    outer: for (let k = stackStart[s] as number; k < (stackStart[s + 1] as number); k++) {
      const loc = stack[k] as number;
      for (let i = locNodeStart[loc] as number; i < (locNodeStart[loc + 1] as number); i++) {
        const name = names[locNodes[i] as number] as string;
        if (name.startsWith('sync.') || isRuntimeFunction(name)) continue;
        site = name;
        break outer;
      }
    }
    if (!site) site = '(runtime)';
    const x = by.get(site) ?? { c: 0, d: 0 };
    x.c += values[s * stride + iCount] as number;
    x.d += values[s * stride + iDelay] as number;
    by.set(site, x);
  }
  return [...by.entries()]
    .map(([site, x]) => ({ site, contentions: x.c, delayNs: x.d }))
    .sort((a, b) => b.delayNs - a.delayNs);
}

/** What changed between two mutex profiles (they are cumulative since the process started). */
export function mutexDelta(before: readonly MutexSite[], after: readonly MutexSite[]): MutexSite[] {
  const prev = new Map(before.map((s) => [s.site, s]));
  return after
    .map((s) => ({
      site: s.site,
      contentions: s.contentions - (prev.get(s.site)?.contentions ?? 0),
      delayNs: s.delayNs - (prev.get(s.site)?.delayNs ?? 0),
    }))
    .filter((s) => s.delayNs > 0 || s.contentions > 0)
    .sort((a, b) => b.delayNs - a.delayNs);
}

export interface GoroutineSamples {
  readonly first: GoroutineDump;
  /** The second sample, intervalMs after the first (growth needs it). */
  readonly second?: GoroutineDump;
  readonly intervalMs: number;
  /** Mutex contention during the interval (mutexDelta of two mutex profiles). */
  readonly mutex?: readonly MutexSite[];
  /** Where the dumps come from, e.g. the pod name. */
  readonly target?: string;
}

export interface GoroutineReport {
  readonly findings: Finding[];
  readonly headline: string;
  readonly total: number;
  readonly growth?: number;
}

/** A stable, short key for a function in a finding id. */
function idPart(name: string): string {
  return name.replace(/[^A-Za-z0-9._-]+/g, '_').slice(0, 80);
}

function secs(ms: number): string {
  return `${Math.round(ms / 100) / 10} s`;
}

function groupOwner(g: GoroutineGroup): string {
  return g.createdBy?.function ?? entryFunction(g);
}

/** The application frame closest to the leaf (what the goroutine was doing, in the app's terms). */
function appFrame(g: GoroutineGroup): string {
  return g.frames.find((f) => isAppFunction(f.function))?.function ?? g.frames[0]?.function ?? '?';
}

export function groupsTable(dump: GoroutineDump, limit = 10): Evidence {
  return {
    type: 'table',
    title: `Largest groups of identical stacks (${dump.groups.length} groups)`,
    columns: ['count', 'state', 'function', 'created by'],
    rows: dump.groups
      .slice(0, limit)
      .map((g) => [
        String(g.count),
        g.maxMinutes !== undefined
          ? `${g.state}, ${g.minMinutes === g.maxMinutes ? '' : `${g.minMinutes}-`}${g.maxMinutes} min`
          : g.state,
        appFrame(g),
        g.createdBy?.function ?? (dump.format === 'debug=1' ? `(entry) ${entryFunction(g)}` : ''),
      ]),
  };
}

export function detectGoroutineIssues(
  samples: GoroutineSamples,
  options: GoroutineDetectorOptions = {},
): GoroutineReport {
  const o = { ...DEFAULTS, ...options };
  const last = samples.second ?? samples.first;
  const first = samples.first;
  const growth = samples.second ? samples.second.total - first.total : undefined;
  const findings: Finding[] = [];
  const where = samples.target ? ` in ${samples.target}` : '';

  // Total and growth.
  const growthText =
    growth === undefined ? '' : ` (${growth >= 0 ? '+' : ''}${growth} in ${secs(samples.intervalMs)})`;
  findings.push({
    id: 'goroutines.total',
    severity: 'info',
    title: `${last.total.toLocaleString('en-US')} goroutines${growthText}`,
    summary: `${last.total.toLocaleString('en-US')} goroutines${where} in ${last.groups.length} groups of identical stacks${growthText}.`,
    evidence: [
      {
        type: 'fields',
        fields: [
          { label: 'Goroutines', value: last.total.toLocaleString('en-US') },
          ...(growth !== undefined
            ? [
                { label: 'First sample', value: first.total.toLocaleString('en-US') },
                {
                  label: 'Growth',
                  value: `${growth >= 0 ? '+' : ''}${growth} in ${secs(samples.intervalMs)}`,
                },
              ]
            : []),
          { label: 'Groups', value: String(last.groups.length) },
        ],
      },
      groupsTable(last),
    ],
    links: [],
  });
  if (growth !== undefined && growth >= o.growthMin) {
    const perMin = Math.round((growth / samples.intervalMs) * 60_000);
    findings.push({
      id: 'goroutines.growth',
      severity: 'warning',
      title: `Goroutine count grows: +${growth} in ${secs(samples.intervalMs)} (about ${perMin.toLocaleString('en-US')}/min)`,
      summary: `The goroutine count${where} went from ${first.total} to ${last.total} in ${secs(samples.intervalMs)}.`,
      evidence: [],
      links: [],
      advice: GOROUTINE_ADVICE.growth,
    });
  }

  // Leak suspects: channel / select waiters, grouped by the function that started them.
  const firstCounts = new Map<string, number>();
  if (samples.second) {
    for (const g of first.groups) {
      if (!isChannelWait(g.state)) continue;
      const k = `${groupOwner(g)}\u0000${g.state}`;
      firstCounts.set(k, (firstCounts.get(k) ?? 0) + g.count);
    }
  }
  const suspects = new Map<
    string,
    { owner: string; state: string; count: number; maxMinutes?: number; doing: string }
  >();
  for (const g of last.groups) {
    // A debug=1 dump has no wait states: only a very large group there is a suspect.
    if (!isChannelWait(g.state) && !(isUnknownWait(g.state) && g.count >= o.leakLargeCount)) continue;
    const owner = groupOwner(g);
    if (isRuntimeFunction(owner)) continue;
    const k = `${owner}\u0000${g.state}`;
    const s = suspects.get(k) ?? { owner, state: g.state, count: 0, doing: appFrame(g) };
    s.count += g.count;
    if (g.maxMinutes !== undefined) s.maxMinutes = Math.max(s.maxMinutes ?? 0, g.maxMinutes);
    suspects.set(k, s);
  }
  for (const [k, s] of suspects) {
    if (s.count < o.leakMinCount) continue;
    const grew = samples.second ? s.count - (firstCounts.get(k) ?? 0) : undefined;
    const old = (s.maxMinutes ?? 0) >= o.leakMinutes;
    const growing = grew !== undefined && grew >= o.leakGrowth;
    if (!old && !growing && s.count < o.leakLargeCount) continue;
    const why = [
      old ? `waiting up to ${s.maxMinutes} minutes` : '',
      growing ? `+${grew} in ${secs(samples.intervalMs)}` : '',
      !old && !growing ? `${s.count} at once` : '',
    ]
      .filter(Boolean)
      .join(', ');
    findings.push({
      id: `goroutines.leak.${idPart(s.owner)}.${idPart(s.state)}`,
      severity: s.count >= o.leakLargeCount || growing ? 'critical' : 'warning',
      title: `Goroutine leak suspect: ${s.count.toLocaleString('en-US')} goroutines ${isUnknownWait(s.state) ? 'parked' : `blocked in ${s.state}`}, started by ${s.owner}`,
      summary: `${s.count.toLocaleString('en-US')} goroutines started by ${s.owner} are blocked in ${s.state} in ${s.doing} (${why}). Nothing sends to (or closes) what they wait on: missing cancellation or a blocked channel.`,
      evidence: [
        {
          type: 'fields',
          fields: [
            { label: 'Started by', value: s.owner },
            { label: 'Blocked in', value: `${s.state} in ${s.doing}` },
            { label: 'Goroutines', value: s.count.toLocaleString('en-US') },
            ...(s.maxMinutes !== undefined
              ? [{ label: 'Waiting', value: `up to ${s.maxMinutes} minutes` }]
              : []),
            ...(grew !== undefined
              ? [{ label: 'Growth', value: `${grew >= 0 ? '+' : ''}${grew} in ${secs(samples.intervalMs)}` }]
              : []),
          ],
        },
      ],
      links: [],
      advice: GOROUTINE_ADVICE.leak,
    });
  }

  // Mutex contention: from the mutex profile when there is one, else from queued goroutines.
  const mutexFromProfile = (samples.mutex ?? []).filter((m) => m.site !== '(runtime)');
  const topMutex = mutexFromProfile[0];
  const ratio = topMutex ? topMutex.delayNs / (samples.intervalMs * 1e6) : 0;
  const waiting = new Map<string, number>();
  for (const dump of samples.second ? [first, last] : [last]) {
    const here = new Map<string, number>();
    for (const g of dump.groups) {
      if (!isMutexWait(g)) continue;
      const who = appFrame(g);
      here.set(who, (here.get(who) ?? 0) + g.count);
    }
    for (const [who, c] of here) waiting.set(who, Math.max(waiting.get(who) ?? 0, c));
  }
  const topWaiting = [...waiting.entries()].sort((a, b) => b[1] - a[1])[0];
  const byProfile = topMutex && ratio >= o.mutexDelayRatio;
  const byDump = topWaiting && topWaiting[1] >= o.mutexMinWaiting;
  if (byProfile || byDump) {
    const site = byProfile ? topMutex.site : (topWaiting as [string, number])[0];
    const fields = [
      { label: 'Lock held in', value: site },
      ...(topMutex
        ? [
            {
              label: 'Time spent waiting',
              value: `${humanDuration(topMutex.delayNs / 1e6)} over ${secs(samples.intervalMs)} (${topMutex.contentions.toLocaleString('en-US')} contended acquisitions)`,
            },
          ]
        : []),
      ...(topWaiting
        ? [{ label: 'Goroutines queued on the lock', value: `${topWaiting[1]} in ${topWaiting[0]}` }]
        : []),
    ];
    findings.push({
      id: `goroutines.mutex.${idPart(site)}`,
      severity: ratio >= 0.5 || (topWaiting?.[1] ?? 0) >= 4 * o.mutexMinWaiting ? 'critical' : 'warning',
      title: `Mutex contention in ${site}`,
      summary: byProfile
        ? `Goroutines waited ${humanDuration(topMutex.delayNs / 1e6)} for a lock released in ${site} during ${secs(samples.intervalMs)}: on average ${ratio.toFixed(2)} goroutines were queued on it.`
        : `${topWaiting?.[1]} goroutines were queued on a sync.Mutex in ${site} at once.`,
      evidence: [
        { type: 'fields', fields },
        ...(mutexFromProfile.length > 1
          ? [
              {
                type: 'table' as const,
                title: 'Mutex wait by site during the interval',
                columns: ['site', 'wait', 'contentions'],
                rows: mutexFromProfile
                  .slice(0, 5)
                  .map((m) => [m.site, humanDuration(m.delayNs / 1e6), String(m.contentions)]),
              },
            ]
          : []),
      ],
      links: [],
      advice: GOROUTINE_ADVICE.mutex,
    });
  }

  // Worst first (domain/report.ts); among equals, the growth alone names no cause, so it comes last.
  const phrased = findings.map(
    (f): Finding => ({
      ...f,
      impact: f.id === 'goroutines.growth' ? 0 : 1,
      headline: { text: `Goroutines: ${f.title}` },
    }),
  );
  const headline =
    worstFirstHeadline(phrased, [], { max: 1 }) ||
    `Goroutines: ${last.total.toLocaleString('en-US')}${growthText}, no leak or contention seen`;
  return { findings, headline, total: last.total, ...(growth !== undefined ? { growth } : {}) };
}
