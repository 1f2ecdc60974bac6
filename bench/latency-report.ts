/**
 * Benchmark: a full `/aegis latency` report against its slowest source call.
 *
 * Every source (a loopback Prometheus answering the step's queries, a loopback Kubernetes API
 * serving the fixtures) delays each answer by DELAY_MS. The figure is the time from command to
 * final report (charts rendered) divided by the slowest single source call seen in the same run.
 * Target: at most 1.3. The first run (cold: font parsing, JIT) is shown apart; the figure is the
 * median of the warm runs, as a long-running bot sees it.
 *
 *   npx node bench/latency-report.ts [runs]
 *
 * The stand-in servers run in a child process (the same file with --serve).
 */

import { fork } from 'node:child_process';
import { fileURLToPath } from 'node:url';
import { observeSourceCalls } from '../src/sources/http.ts';
import { KubernetesSource } from '../src/sources/kubernetes.ts';
import { PrometheusSource } from '../src/sources/prometheus.ts';
import { latencyStep } from '../src/steps/latency/step.ts';
import {
  context,
  kubeConfigFor,
  startFakeKubernetes,
  startFakePrometheus,
  testConfig,
} from '../test/steps/latency/fakes.ts';

const DELAY_MS = 300;
// The stand-ins run in a child process, as remote servers would: their work does not share the
// bot's event loop (it still shares the machine's cores).
if (process.argv[2] === '--serve') {
  const prom = await startFakePrometheus(undefined, { delayMs: DELAY_MS });
  const k8s = await startFakeKubernetes({ delayMs: DELAY_MS });
  process.send?.({ prom: prom.url, k8s: k8s.url });
  process.on('disconnect', () => {
    void Promise.all([prom.close(), k8s.close()]).then(() => process.exit(0));
  });
} else {
  await main();
}

async function main(): Promise<void> {
  const RUNS = Number(process.argv[2] ?? 7);
  const child = fork(fileURLToPath(import.meta.url), ['--serve'], {
    stdio: ['ignore', 'inherit', 'inherit', 'ipc'],
  });
  const urls = await new Promise<{ prom: string; k8s: string }>((resolve, reject) => {
    child.once('message', (m) => resolve(m as { prom: string; k8s: string }));
    child.once('exit', (code) => reject(new Error(`the stand-in servers exited (${code})`)));
  });
  const prom = { url: urls.prom };
  const k8s = { url: urls.k8s };
  const config = testConfig(prom.url);

  let calls: { operation: string; seconds: number }[] = [];
  const stop = observeSourceCalls((c) =>
    calls.push({ operation: `${c.source} ${c.operation}`, seconds: c.seconds }),
  );

  async function once(): Promise<{ totalMs: number; slowestMs: number; calls: number; parts: string }> {
    calls = [];
    const { ctx } = context(config, {
      prometheus: () => new PrometheusSource({ url: prom.url, timeoutMs: 5000 }),
      kubernetes: () => new KubernetesSource({ kubeConfig: kubeConfigFor(k8s.url), timeoutMs: 5000 }),
    });
    const started = performance.now();
    const result = await latencyStep.run(ctx, { windowMs: 300_000 });
    const totalMs = performance.now() - started;
    const bad = result.parts.filter((p) => p.status !== 'ok');
    if (bad.length || result.attachments.length !== 3) {
      throw new Error(
        `the report is incomplete: ${JSON.stringify(bad)}, ${result.attachments.length} charts`,
      );
    }
    const slowestMs = Math.max(...calls.map((c) => c.seconds * 1000));
    return { totalMs, slowestMs, calls: calls.length, parts: `${result.parts.length} parts` };
  }

  const fmt = (r: { totalMs: number; slowestMs: number }) =>
    `total ${r.totalMs.toFixed(0)} ms, slowest source call ${r.slowestMs.toFixed(0)} ms, ratio ${(r.totalMs / r.slowestMs).toFixed(3)}`;

  try {
    const cold = await once();
    console.log(`cold run: ${fmt(cold)} (${cold.calls} source calls, ${cold.parts})`);
    const warm: { totalMs: number; slowestMs: number }[] = [];
    for (let i = 0; i < RUNS; i++) {
      const r = await once();
      warm.push(r);
      console.log(`run ${i + 1}: ${fmt(r)}`);
    }
    const ratios = warm.map((r) => r.totalMs / r.slowestMs).sort((a, b) => a - b);
    const median = ratios[Math.floor(ratios.length / 2)] as number;
    console.log(
      `latency report / slowest source (every source delayed ${DELAY_MS} ms): median ratio ${median.toFixed(3)} ` +
        `(min ${ratios[0]?.toFixed(3)}, max ${ratios[ratios.length - 1]?.toFixed(3)}, ${RUNS} warm runs); target <= 1.3`,
    );
  } finally {
    stop();
    child.disconnect();
  }
}
