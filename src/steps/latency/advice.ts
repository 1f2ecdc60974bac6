import type { Advice } from '../../domain/finding.ts';

/**
 * The runbook's "Common Issues and Fixes" that Step 1's findings point to, in the runbook's own
 * words, with its example commands filled in with the service's real names where they are known.
 */

export interface Names {
  readonly namespace: string;
  readonly deployment: string;
}

/** The runbook's Common Issues and Fixes, "Slow Database Queries" (symptoms: high P99 latency, increasing query times). */
export function slowQueriesAdvice(): Advice {
  return {
    quickFix: [
      "-- Add missing index\nCREATE INDEX CONCURRENTLY idx_findings_created ON findings(created_at DESC) WHERE status = 'open';",
      '-- Vacuum and analyze\nVACUUM ANALYZE findings;',
      '-- Check for lock contention\nSELECT * FROM pg_locks WHERE NOT granted;',
    ],
    longTerm: [
      'Add query timeouts',
      'Implement query result caching',
      'Partition large tables by date',
      'Add read replicas for reporting queries',
    ],
  };
}

/** The runbook's Common Issues and Fixes, "High CPU Usage" (symptoms: throttled pods, slow responses). */
export function highCpuAdvice(names: Names, replicas?: number): Advice {
  return {
    quickFix: [
      `# Scale horizontally\nkubectl scale deployment ${names.deployment} -n ${names.namespace} --replicas=${replicas ?? 5}`,
    ],
    longTerm: [
      'Cache computed results',
      'Optimize hot code paths',
      'Use worker pools for CPU-intensive work',
      'Add batch processing for bulk operations',
    ],
  };
}

/** The runbook's Common Issues and Fixes, "Memory Exhaustion" (symptoms: OOMKilled, gradual memory increase). */
export function memoryExhaustionAdvice(names: Names, limit = '4Gi'): Advice {
  const patch = JSON.stringify([
    { op: 'replace', path: '/spec/template/spec/containers/0/resources/limits/memory', value: limit },
  ]);
  return {
    quickFix: [
      `# Increase memory limit (temporary)\nkubectl patch deployment ${names.deployment} -n ${names.namespace} --type='json' -p='${patch}'`,
    ],
    longTerm: [
      'Implement streaming for large responses',
      'Use generators for batch processing',
      'Add memory limits to goroutines',
      'Profile and fix memory leaks',
    ],
  };
}
