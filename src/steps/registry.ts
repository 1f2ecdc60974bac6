import { AppError } from '../domain/errors.ts';
import { checklistStep } from './checklist/step.ts';
import { dbStep } from './db/step.ts';
import { latencyStep } from './latency/step.ts';
import { CPU_STEP } from './profiling/cpu.ts';
import { GOROUTINES_STEP } from './profiling/goroutines.ts';
import { HEAP_STEP } from './profiling/heap.ts';
import type { StepDefinition } from './step.ts';

/**
 * Every runbook step the bot offers, in the order `/aegis help` lists them. A new step is one
 * folder in steps/ and one line here; Slack, the CLI and the console all read this list.
 */
// biome-ignore lint/suspicious/noExplicitAny: steps differ in argument and source types; each is typed in its own file
export const STEPS: readonly StepDefinition<any, any>[] = [
  latencyStep,
  CPU_STEP,
  HEAP_STEP,
  dbStep,
  GOROUTINES_STEP,
  checklistStep,
];

// biome-ignore lint/suspicious/noExplicitAny: see STEPS
export function findStep(name: string): StepDefinition<any, any> {
  const step = STEPS.find((s) => s.name === name);
  if (!step) {
    throw new AppError(
      'usage',
      `unknown step "${name}": known steps are ${STEPS.map((s) => s.name).join(', ') || '(none yet)'}`,
    );
  }
  return step;
}
