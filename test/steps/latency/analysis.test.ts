import { describe, expect, it } from 'vitest';
import { scaleTarget } from '../../../src/domain/proposals.ts';
import { RUNBOOK_BASELINES } from '../../../src/domain/thresholds.ts';
import {
  buildEndpoints,
  buildErrorEndpoints,
  classifyValue,
  drivingEndpoint,
  formatMs,
  hottestPod,
  memoryTrend,
  mergePods,
  onsetAbove,
  ratioToPercent,
  secondsToMs,
  stepFor,
  sustainedMin,
} from '../../../src/steps/latency/analysis.ts';

const P99 = RUNBOOK_BASELINES.api_p99_latency_ms;
const baselines = { cpu: RUNBOOK_BASELINES.cpu_percent, memory: RUNBOOK_BASELINES.memory_percent };

describe('classification against the baseline table', () => {
  it('puts each boundary where domain/thresholds.ts documents it', () => {
    expect(classifyValue(199.9, P99)).toBe('normal');
    expect(classifyValue(200, P99)).toBe('warning');
    expect(classifyValue(500, P99)).toBe('warning');
    expect(classifyValue(2000, P99)).toBe('warning');
    expect(classifyValue(2000.1, P99)).toBe('critical');
    expect(classifyValue(89.9, RUNBOOK_BASELINES.cpu_percent)).toBe('warning');
    expect(classifyValue(90.01, RUNBOOK_BASELINES.cpu_percent)).toBe('critical');
    expect(classifyValue(59.99, RUNBOOK_BASELINES.cpu_percent)).toBe('normal');
  });

  it('treats a quantile beyond the largest bucket as critical and no traffic as no value', () => {
    expect(secondsToMs(Number.POSITIVE_INFINITY)).toBe(Number.POSITIVE_INFINITY);
    expect(classifyValue(secondsToMs(Number.POSITIVE_INFINITY), P99)).toBe('critical');
    expect(secondsToMs(Number.NaN)).toBeUndefined();
    expect(classifyValue(undefined, P99)).toBe('info');
    expect(formatMs(Number.POSITIVE_INFINITY)).toBe('beyond the largest bucket');
  });

  it('converts Prometheus units to the table units (seconds to ms, ratios to percent)', () => {
    expect(secondsToMs(1.8)).toBe(1800);
    expect(ratioToPercent(0.94)).toBeCloseTo(94, 9);
    expect(ratioToPercent(Number.NaN)).toBeUndefined();
    expect(ratioToPercent(Number.POSITIVE_INFINITY)).toBeUndefined();
  });
});

describe('endpoints', () => {
  const rows = buildEndpoints(
    {
      p99: [
        { path: '/api/health', value: 0.009 },
        { path: '/api/search', value: 2.9 },
        { path: '/api/idle', value: Number.NaN },
        { path: '/api/report', value: 0.24 },
      ],
      p95: [{ path: '/api/search', value: 2.4 }],
      p50: [{ path: '/api/search', value: 1.7 }],
      rate: [
        { path: '/api/search', value: 5 },
        { path: '/api/report', value: 4 },
        { path: '/api/health', value: 6 },
        { path: '/api/idle', value: 0 },
      ],
    },
    P99,
  );

  it('sorts by P99 (highest first, no traffic last) and classifies each', () => {
    expect(rows.map((r) => [r.path, r.severity])).toEqual([
      ['/api/search', 'critical'],
      ['/api/report', 'warning'],
      ['/api/health', 'normal'],
      ['/api/idle', 'info'],
    ]);
    expect(rows[0]).toMatchObject({ p50: 1700, p95: 2400, p99: 2900, rate: 5 });
  });

  it('names the endpoint driving the overall P99', () => {
    expect(drivingEndpoint(rows, 2600)?.path).toBe('/api/search');
    expect(drivingEndpoint(rows, 5000)).toBeUndefined();
    expect(drivingEndpoint(rows, undefined)).toBeUndefined();
  });

  it('keeps at most the limit', () => {
    expect(buildEndpoints({ p99: rows.map((r) => ({ path: r.path, value: 1 })) }, P99, 2)).toHaveLength(2);
  });
});

describe('pods', () => {
  const series = {
    cpuCores: new Map([
      ['api-0', 0.94],
      ['api-1', 0.3],
      ['old-pod', 0.5],
    ]),
    cpuLimitCores: new Map([
      ['api-0', 1],
      ['api-1', 1],
      ['old-pod', 1],
    ]),
    memoryBytes: new Map([['api-0', 900]]),
    memoryLimitBytes: new Map([['api-0', 1000]]),
    throttledRatio: new Map([['api-0', 0.4]]),
  };

  it('merges Prometheus figures with pod status, leaving out pods the cluster no longer lists', () => {
    const rows = mergePods(
      {
        series,
        status: [
          {
            name: 'api-0',
            restarts: 2,
            oomKilled: true,
            state: 'running',
            ready: true,
            memoryLimitBytes: 2000,
          },
          {
            name: 'api-1',
            restarts: 0,
            oomKilled: false,
            state: 'running',
            ready: true,
            memoryLimitBytes: 1000,
          },
        ],
        top: [{ name: 'api-1', cpuCores: 0.1, memoryBytes: 500 }],
      },
      baselines,
    );
    expect(rows.map((r) => r.name)).toEqual(['api-0', 'api-1']);
    expect(rows[0]).toMatchObject({
      cpuPercent: 94,
      cpuSource: 'prometheus',
      cpuSeverity: 'critical',
      memoryPercent: 90,
      memorySeverity: 'warning',
      throttledPercent: 40,
      restarts: 2,
      oomKilled: true,
    });
    // Prometheus has no memory series for api-1: kubectl top fills in, against the pod spec's limit
    expect(rows[1]).toMatchObject({ cpuPercent: 30, memoryPercent: 50, memorySource: 'metrics.k8s.io' });
  });

  it('uses kubectl top and the pod spec when Prometheus has no container series', () => {
    const rows = mergePods(
      {
        status: [
          { name: 'p', restarts: 0, oomKilled: false, state: 'running', ready: true, cpuLimitCores: 0.5 },
        ],
        top: [{ name: 'p', cpuCores: 0.49, memoryBytes: 100 }],
      },
      baselines,
    );
    expect(rows[0]).toMatchObject({ cpuPercent: 98, cpuSource: 'metrics.k8s.io', cpuSeverity: 'critical' });
    expect(rows[0]?.memoryPercent).toBeUndefined();
    expect(rows[0]?.memorySeverity).toBe('info');
  });

  it('finds the hottest pod by CPU and by memory', () => {
    const rows = mergePods({ series }, baselines);
    expect(hottestPod(rows, 'cpu')?.name).toBe('api-0');
    expect(hottestPod(rows, 'memory')?.name).toBe('api-0');
    expect(hottestPod([], 'cpu')).toBeUndefined();
  });
});

describe('memory trend', () => {
  const points = (f: (i: number) => number) =>
    Array.from({ length: 30 }, (_, i) => ({ time: 1000 + i * 10, value: f(i) }));

  it('sees a gradual increase and when it would reach the limit', () => {
    const t = memoryTrend(
      'api-0',
      points((i) => 500e6 + i * 2e6),
      1e9,
    );
    expect(t?.rising).toBe(true);
    expect(t?.slopeBytesPerHour).toBeCloseTo(2e6 * 360, -3);
    expect(t?.r2).toBeCloseTo(1, 6);
    expect(t?.increasePercentOfLimit).toBeCloseTo(5.8, 6);
    // 442 MB left at 200 kB/s from t=1290 s
    expect(t?.reachesLimitAt?.getTime()).toBeCloseTo((1290 + 442e6 / 2e5) * 1000, -3);
  });

  it('does not call a flat or noisy series rising', () => {
    expect(
      memoryTrend(
        'flat',
        points(() => 500e6),
        1e9,
      )?.rising,
    ).toBe(false);
    expect(
      memoryTrend(
        'noise',
        points((i) => 500e6 + (i % 2 ? 30e6 : -30e6)),
        1e9,
      )?.rising,
    ).toBe(false);
    expect(
      memoryTrend(
        'small',
        points((i) => 500e6 + i * 1e5),
        1e9,
      )?.rising,
    ).toBe(false);
    expect(memoryTrend('short', points((i) => i).slice(0, 3))).toBeUndefined();
  });
});

describe('sustained conditions', () => {
  const period = { startS: 1000, endS: 1300, stepS: 10 };
  const pts = (values: number[], from = 1000) => values.map((value, i) => ({ time: from + i * 10, value }));

  it('is the minimum over a fully covered period', () => {
    expect(sustainedMin(pts(Array.from({ length: 31 }, (_, i) => 2500 + i)), period)).toBe(2500);
  });

  it('is undefined when the period is not covered (late start, gap, NaN)', () => {
    expect(
      sustainedMin(
        pts(
          Array.from({ length: 20 }, () => 3000),
          1110,
        ),
        period,
      ),
    ).toBeUndefined();
    const gap = pts(Array.from({ length: 31 }, () => 3000)).filter((p) => p.time < 1100 || p.time > 1150);
    expect(sustainedMin(gap, period)).toBeUndefined();
    const nan = pts(Array.from({ length: 31 }, (_, i) => (i === 5 ? Number.NaN : 3000)));
    expect(sustainedMin(nan, period)).toBeUndefined();
    expect(sustainedMin([], period)).toBeUndefined();
  });

  it('chooses whole-second steps of about 60 points', () => {
    expect(stepFor(300_000)).toBe(5000);
    expect(stepFor(5000)).toBe(1000);
    expect(stepFor(86_400_000)).toBe(1_440_000);
  });
});

describe('scale target', () => {
  it('adds the configured step, at least one, capped at the maximum', () => {
    const bounds = (step: number, max: number, min = 1) => ({
      scale_step_percent: step,
      max_replicas: max,
      min_replicas: min,
    });
    expect(scaleTarget(4, bounds(50, 20))).toBe(6);
    expect(scaleTarget(3, bounds(50, 20))).toBe(5);
    expect(scaleTarget(1, bounds(10, 20))).toBe(2);
    expect(scaleTarget(18, bounds(50, 20))).toBe(20);
    expect(scaleTarget(20, bounds(50, 20))).toBeUndefined();
    expect(scaleTarget(0, bounds(50, 20))).toBe(1);
    expect(scaleTarget(1, bounds(50, 20, 3))).toBe(3);
    expect(scaleTarget(25, bounds(50, 20))).toBeUndefined();
  });
});

describe('errors by endpoint', () => {
  it('ranks endpoints by 5xx ratio and gives each its share of all 5xx and its status codes', () => {
    const rows = buildErrorEndpoints(
      [
        { path: '/api/pay', status: '503', value: 0.2 },
        { path: '/api/pay', status: '500', value: 0.1 },
        { path: '/api/list', status: '500', value: 0.1 },
        { path: '/api/idle', status: '500', value: 0 },
      ],
      [
        { path: '/api/pay', value: 1 },
        { path: '/api/list', value: 9 },
      ],
    );
    expect(rows.map((r) => [r.path, r.ratioPercent?.toFixed(2), r.sharePercent.toFixed(2)])).toEqual([
      ['/api/pay', '30.00', '75.00'],
      ['/api/list', '1.11', '25.00'],
    ]);
    expect(rows[0]?.statuses.map((s) => s.status)).toEqual(['503', '500']);
  });
});

describe('onset above a bound', () => {
  const w = { startS: 1000, stepS: 10 };
  const pts = (values: number[], from = 1000) => values.map((value, i) => ({ time: from + i * 10, value }));

  it('is the first sample above the bound that stays above to the end', () => {
    expect(onsetAbove(pts([0, 2, 0, 0, 3, 4, 5]), 1, w)).toEqual({
      at: new Date(1040 * 1000),
      ongoing: true,
      beforeWindow: false,
    });
  });

  it('says when it came back under the bound', () => {
    expect(onsetAbove(pts([0, 3, 4, 0, 0]), 1, w)).toMatchObject({
      at: new Date(1010 * 1000),
      ongoing: false,
      until: new Date(1020 * 1000),
    });
  });

  it('is before the window when the window starts above the bound, and none when nothing is above', () => {
    expect(onsetAbove(pts([3, 4, 5]), 1, w)?.beforeWindow).toBe(true);
    expect(onsetAbove(pts([3, 4, 5], 1030), 1, w)).toMatchObject({
      at: new Date(1030 * 1000),
      beforeWindow: false,
    });
    expect(onsetAbove(pts([0, 1, 0.5]), 1, w)).toBeUndefined();
    expect(onsetAbove(pts([3, Number.NaN, 4]), 1, w)).toMatchObject({ at: new Date(1020 * 1000) });
  });
});
