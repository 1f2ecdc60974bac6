import type { Agent as HttpAgent } from 'node:http';
import type { Agent as HttpsAgent } from 'node:https';
import type { Readable } from 'node:stream';
import { isAxiosError } from 'axios';
import type { ServiceConfig } from '../config/schema.ts';
import { AppError, SourceError } from '../domain/errors.ts';
import type { Checkable, CheckResult } from '../domain/ports.ts';
import { createHttpClient, errorSummary, sourceCall, toSourceError } from './http.ts';

/**
 * The pprof endpoint of one service (net/http/pprof, the runbook's http://aegis-api:6060), reached
 * either at a configured base URL or through the Kubernetes API server's pod proxy
 * (pods/proxy) for one pod: a pod named by the user, by default the busiest by CPU.
 *
 * Every response is streamed and counted: one that grows past pprof.max_bytes is cut off and
 * refused with a message naming the limit, never buffered whole. CPU captures get seconds plus
 * the configured timeout as their deadline. Captures of the same pod and kind are single-flight:
 * a second request while one runs joins it (the caller is told it joined, and since when).
 */

/** What an HTTP call needs to reach a pod's port through the API server's proxy. */
export interface PodProxyTarget {
  /** e.g. https://k8s:6443/api/v1/namespaces/aegis/pods/aegis-api-7d9f:6060/proxy */
  readonly baseURL: string;
  readonly headers?: Record<string, string>;
  readonly httpsAgent?: HttpsAgent;
  readonly httpAgent?: HttpAgent;
}

/** Injected: src/sources/kubernetes.ts's KubernetesSource.podProxyBase fits. */
export type PodProxyBaseFn = (namespace: string, pod: string, port: number) => Promise<PodProxyTarget>;

/** Injected: the name of the service's pod using the most CPU now (metrics.k8s.io). */
export type BusiestPodFn = (service: ServiceConfig, signal?: AbortSignal) => Promise<string>;

/**
 * Builds a BusiestPodFn from a pod-metrics call (KubernetesSource.podMetrics fits): the pod whose
 * containers use the most CPU now, as `kubectl top pods` would rank them.
 */
export function busiestPodByCpu(
  podMetrics: (
    namespace: string,
    selector?: string,
    options?: { signal?: AbortSignal },
  ) => Promise<readonly { name: string; containers: readonly { cpu: number }[] }[]>,
): BusiestPodFn {
  return async (service, signal) => {
    const selector = service.pod_selector ?? `app=${service.deployment}`;
    const pods = await podMetrics(service.namespace, selector, signal ? { signal } : {});
    let best: { name: string; cpu: number } | undefined;
    for (const p of pods) {
      const cpu = p.containers.reduce((t, c) => t + c.cpu, 0);
      if (!best || cpu > best.cpu) best = { name: p.name, cpu };
    }
    if (!best) {
      throw new SourceError(
        'kubernetes',
        `find the busiest pod of ${service.name}`,
        'malformed',
        `no pod metrics for ${selector} in namespace ${service.namespace}: name a pod`,
      );
    }
    return best.name;
  };
}

export type PprofKind = 'profile' | 'heap' | 'goroutine' | 'mutex' | 'allocs' | 'block';

export interface ProfileTarget {
  /** The pod, in pod_proxy mode. */
  readonly pod?: string;
  /** How reports and file names call it: the pod, or the host:port of the base URL. */
  readonly label: string;
  /** How the pod was chosen. */
  readonly chosen: 'configured-url' | 'named' | 'busiest';
}

export interface FetchOptions {
  /** The pod to profile (pod_proxy mode); default the busiest. */
  readonly pod?: string;
  /** An already resolved target (from resolveTarget); takes precedence over `pod`. */
  readonly target?: ProfileTarget;
  /** CPU profile length (profile kind), or a delta window for the others. */
  readonly seconds?: number;
  /** goroutine: 1 or 2 (text); 0 or absent: the gzipped protobuf. */
  readonly debug?: 0 | 1 | 2;
  readonly signal?: AbortSignal;
  /** Who asked (a Slack user id), shown to anyone who joins the capture. */
  readonly requestedBy?: string;
}

export interface FetchedProfile {
  readonly kind: PprofKind;
  readonly target: ProfileTarget;
  readonly bytes: Buffer;
  readonly contentType: string;
  readonly startedAt: Date;
  readonly finishedAt: Date;
  /** True when this request joined a capture already running. */
  readonly joined: boolean;
  readonly startedBy?: string;
  readonly seconds?: number;
  /** The path fetched, e.g. /debug/pprof/profile?seconds=30 (no credentials, no host). */
  readonly path: string;
}

/** The port the runbook steps use (PprofSource implements it; tests hand steps fakes). */
export interface PprofPort {
  resolveTarget(pod: string | undefined, signal?: AbortSignal): Promise<ProfileTarget>;
  fetch(kind: PprofKind, options?: FetchOptions): Promise<FetchedProfile>;
  /** A capture of this kind for this target running now, if any. */
  running(kind: PprofKind, target: ProfileTarget): RunningCapture | undefined;
}

export interface RunningCapture {
  readonly startedAt: Date;
  readonly startedBy?: string;
  readonly seconds?: number;
}

/** Process-wide registry of captures in flight, keyed by service, target and kind. */
export class CaptureRegistry {
  private readonly inFlight = new Map<
    string,
    RunningCapture & { promise: Promise<Omit<FetchedProfile, 'joined'>> }
  >();

  key(service: string, target: string, kind: string): string {
    return `${service}\u0000${target}\u0000${kind}`;
  }

  get(key: string): RunningCapture | undefined {
    return this.inFlight.get(key);
  }

  /** Runs `fn` unless the same capture is running, in which case its result is shared. */
  async run(
    key: string,
    info: RunningCapture,
    fn: () => Promise<Omit<FetchedProfile, 'joined'>>,
  ): Promise<FetchedProfile> {
    const existing = this.inFlight.get(key);
    if (existing) {
      const r = await existing.promise;
      return { ...r, joined: true };
    }
    const promise = fn();
    this.inFlight.set(key, { ...info, promise });
    try {
      return { ...(await promise), joined: false };
    } finally {
      this.inFlight.delete(key);
    }
  }

  get size(): number {
    return this.inFlight.size;
  }
}

export const defaultCaptureRegistry = new CaptureRegistry();

export interface PprofSourceDeps {
  readonly podProxyBase?: PodProxyBaseFn;
  readonly busiestPod?: BusiestPodFn;
  readonly captures?: CaptureRegistry;
}

const POD_NAME = /^[a-z0-9]([-a-z0-9.]{0,251}[a-z0-9])?$/;

export function checkPodName(pod: string): string {
  if (!POD_NAME.test(pod)) {
    throw new AppError(
      'usage',
      `"${pod}" is not a valid pod name (RFC 1123: lower-case letters, digits, "-" and ".")`,
    );
  }
  return pod;
}

const KIND_TEXT: Record<PprofKind, string> = {
  profile: 'CPU profile',
  heap: 'heap profile',
  goroutine: 'goroutine dump',
  mutex: 'mutex profile',
  allocs: 'allocation profile',
  block: 'block profile',
};

export class PprofSource implements PprofPort, Checkable {
  readonly name: string;
  private readonly service: ServiceConfig;
  private readonly deps: PprofSourceDeps;
  private readonly captures: CaptureRegistry;

  constructor(service: ServiceConfig, deps: PprofSourceDeps = {}) {
    if (!service.pprof) {
      throw new AppError(
        'config',
        `service ${service.name} has no pprof endpoint configured (services[].pprof)`,
      );
    }
    this.service = service;
    this.deps = deps;
    this.captures = deps.captures ?? defaultCaptureRegistry;
    this.name = `pprof ${service.name}`;
  }

  private get config(): NonNullable<ServiceConfig['pprof']> {
    return this.service.pprof as NonNullable<ServiceConfig['pprof']>;
  }

  async resolveTarget(pod: string | undefined, signal?: AbortSignal): Promise<ProfileTarget> {
    const c = this.config;
    if (c.mode === 'url') {
      if (pod) {
        throw new AppError(
          'usage',
          `pprof for ${this.service.name} is configured with a base URL (${c.base_url}), so it cannot pick pod "${pod}": ` +
            'leave the pod out, or configure pprof.mode: pod_proxy',
        );
      }
      return { label: new URL(c.base_url).host, chosen: 'configured-url' };
    }
    if (pod) return { pod: checkPodName(pod), label: pod, chosen: 'named' };
    if (!this.deps.busiestPod) {
      throw new AppError(
        'usage',
        `name a pod: the bot has no cluster metrics to pick the busiest pod of ${this.service.name}`,
      );
    }
    const busiest = await this.deps.busiestPod(this.service, signal);
    return { pod: checkPodName(busiest), label: busiest, chosen: 'busiest' };
  }

  running(kind: PprofKind, target: ProfileTarget): RunningCapture | undefined {
    return this.captures.get(this.captures.key(this.service.name, target.label, kind));
  }

  async fetch(kind: PprofKind, options: FetchOptions = {}): Promise<FetchedProfile> {
    const target = options.target ?? (await this.resolveTarget(options.pod, options.signal));
    const seconds = options.seconds;
    const params = new URLSearchParams();
    if (seconds !== undefined) params.set('seconds', String(seconds));
    if (options.debug) params.set('debug', String(options.debug));
    const path = `/debug/pprof/${kind}${params.size ? `?${params}` : ''}`;
    const startedAt = new Date();
    const key = this.captures.key(
      this.service.name,
      target.label,
      `${kind}${options.debug ? `-debug${options.debug}` : ''}`,
    );
    return this.captures.run(
      key,
      {
        startedAt,
        ...(options.requestedBy ? { startedBy: options.requestedBy } : {}),
        ...(seconds ? { seconds } : {}),
      },
      async () => {
        const timeoutMs =
          kind === 'profile' ? (seconds ?? 30) * 1000 + this.config.timeout : this.config.timeout;
        const operation = `fetch ${seconds && kind === 'profile' ? `${seconds} s ` : ''}${KIND_TEXT[kind]} of ${target.label}`;
        const res = await this.get(target, path, operation, timeoutMs, options.signal);
        return {
          kind,
          target,
          bytes: res.bytes,
          contentType: res.contentType,
          startedAt,
          finishedAt: new Date(),
          ...(options.requestedBy ? { startedBy: options.requestedBy } : {}),
          ...(seconds !== undefined ? { seconds } : {}),
          path,
        };
      },
    );
  }

  /** GET /debug/pprof/ answers: the endpoint is reachable. */
  async check(signal?: AbortSignal): Promise<CheckResult[]> {
    const name = `pprof ${this.service.name}`;
    try {
      const target = await this.resolveTarget(undefined, signal);
      const res = await this.get(
        target,
        '/debug/pprof/',
        'read the pprof index',
        this.config.timeout,
        signal,
      );
      const text = res.bytes.toString('utf8');
      const profiles = ['profile', 'heap', 'goroutine', 'mutex'].filter((p) => text.includes(p));
      return [
        {
          name,
          ok: true,
          detail: `${target.label}: /debug/pprof/ reachable${profiles.length ? ` (${profiles.join(', ')})` : ''}`,
        },
      ];
    } catch (e) {
      const msg = e instanceof Error ? e.message : String(e);
      return [
        {
          name,
          ok: false,
          detail: msg,
          hint:
            this.config.mode === 'url'
              ? `check pprof.base_url (${this.config.base_url}) and that the service registers net/http/pprof`
              : 'check the bot may get pods/proxy in the namespace and that the pod serves pprof on pprof.port',
        },
      ];
    }
  }

  private async base(target: ProfileTarget): Promise<PodProxyTarget> {
    const c = this.config;
    if (c.mode === 'url') return { baseURL: c.base_url.replace(/\/+$/, '') };
    if (!this.deps.podProxyBase) {
      throw new AppError(
        'config',
        `pprof.mode pod_proxy for ${this.service.name} needs Kubernetes access (kubernetes: in the configuration)`,
      );
    }
    return this.deps.podProxyBase(this.service.namespace, target.pod as string, c.port);
  }

  /** Streams a GET, refusing (not buffering) more than max_bytes. */
  private async get(
    target: ProfileTarget,
    path: string,
    operation: string,
    timeoutMs: number,
    signal: AbortSignal | undefined,
  ): Promise<{ bytes: Buffer; contentType: string }> {
    const max = this.config.max_bytes;
    const source = this.name;
    return sourceCall(source, operation, async () => {
      const base = await this.base(target);
      const client = createHttpClient(base.baseURL.replace(/\/+$/, ''), base.headers ?? {});
      const timeout = AbortSignal.timeout(timeoutMs);
      const combined = signal ? AbortSignal.any([signal, timeout]) : timeout;
      const timedOut = () =>
        new SourceError(
          source,
          operation,
          'timeout',
          `no complete answer within ${Math.round(timeoutMs / 100) / 10} s`,
        );
      try {
        const res = await client.get<Readable>(path, {
          responseType: 'stream',
          decompress: false,
          signal: combined,
          ...(base.httpsAgent ? { httpsAgent: base.httpsAgent } : {}),
          ...(base.httpAgent ? { httpAgent: base.httpAgent } : {}),
        });
        const contentType = String(res.headers['content-type'] ?? '');
        const declared = Number(res.headers['content-length']);
        if (res.status >= 400) {
          const said = errorSummary(await readLimited(res.data, 2048, true));
          res.data.destroy();
          const reason = res.status === 401 || res.status === 403 ? 'auth' : 'http_error';
          const hint =
            res.status === 404
              ? ` at ${path}: is net/http/pprof registered on this port?`
              : said
                ? `: ${said}`
                : '';
          throw new SourceError(source, operation, reason, `HTTP ${res.status}${hint}`);
        }
        if (Number.isFinite(declared) && declared > max) {
          res.data.destroy();
          throw tooLarge(source, operation, max, `the answer announces ${declared} bytes`);
        }
        const bytes = await readLimited(res.data, max, false).catch((e) => {
          if (e instanceof LimitExceeded) throw tooLarge(source, operation, max, 'the answer kept coming');
          throw e;
        });
        return { bytes, contentType };
      } catch (e) {
        if (e instanceof SourceError) throw e;
        if (timeout.aborted && !signal?.aborted) throw timedOut();
        if (isAxiosError(e) && e.code === 'ERR_CANCELED' && signal?.aborted) {
          throw new SourceError(source, operation, 'timeout', 'cancelled', { cause: e });
        }
        throw toSourceError(source, operation, e, max);
      }
    });
  }
}

class LimitExceeded extends Error {}

function tooLarge(source: string, operation: string, max: number, detail: string): SourceError {
  return new SourceError(
    source,
    operation,
    'too_large',
    `${detail}: over the limit of ${max.toLocaleString('en-US')} bytes (pprof.max_bytes); refused`,
  );
}

/** Reads a stream into one buffer, stopping at `max` bytes (truncate, or throw LimitExceeded). */
function readLimited(stream: Readable, max: number, truncate: boolean): Promise<Buffer> {
  return new Promise((resolve, reject) => {
    const chunks: Buffer[] = [];
    let n = 0;
    const cleanup = () => {
      stream.off('data', onData);
      stream.off('end', onEnd);
      stream.off('error', onError);
      stream.off('aborted', onAborted);
    };
    const onData = (chunk: Buffer) => {
      n += chunk.length;
      if (n > max) {
        cleanup();
        stream.destroy();
        if (truncate) {
          chunks.push(chunk.subarray(0, chunk.length - (n - max)));
          resolve(Buffer.concat(chunks));
        } else reject(new LimitExceeded());
        return;
      }
      chunks.push(chunk);
    };
    const onEnd = () => {
      cleanup();
      resolve(Buffer.concat(chunks));
    };
    const onError = (e: Error) => {
      cleanup();
      reject(e);
    };
    const onAborted = () => {
      cleanup();
      reject(
        Object.assign(new Error('the connection closed before the answer was complete'), {
          code: 'ECONNRESET',
        }),
      );
    };
    stream.on('data', onData);
    stream.on('end', onEnd);
    stream.on('error', onError);
    stream.on('aborted', onAborted);
  });
}
