export { alignTable } from '../../lib/text-table.ts';
export type { Block, RenderedMessage } from './blocks.ts';
export {
  nextStepButton,
  PROPOSAL_ACTION_ID,
  PROPOSAL_ACTION_PREFIX,
  parseActionId,
  proposalActionId,
  proposalButton,
  STEP_ACTION_ID,
  STEP_ACTION_PREFIX,
  type StepButtonValue,
  stepActionId,
} from './buttons.ts';
export { type CommandHelp, renderHelp } from './help.ts';
export { blockProblems, messageProblems, SLACK_LIMITS } from './limits.ts';
export { escapeMrkdwn } from './mrkdwn.ts';
export { renderError, renderUsage } from './notices.ts';
export { renderProgress } from './progress.ts';
export {
  ensureSendable,
  MIN_BLOCKS,
  type RenderedStepResult,
  renderStepResult,
  type StepRenderOptions,
} from './step-result.ts';
export { renderTextReport } from './text-report.ts';
