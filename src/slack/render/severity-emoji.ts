import type { Severity } from '../../domain/severity.ts';

export const SEVERITY_EMOJI: Record<Severity, string> = {
  critical: ':red_circle:',
  warning: ':large_orange_circle:',
  normal: ':large_green_circle:',
  unavailable: ':white_circle:',
  info: ':large_blue_circle:',
};
