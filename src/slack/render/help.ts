import type { Block, RenderedMessage } from './blocks.ts';
import { header, section } from './blocks.ts';
import { SLACK_LIMITS } from './limits.ts';
import { escapeInlineCode, escapeMrkdwn, oneLine, truncatePlain } from './mrkdwn.ts';
import { commandLine } from './notices.ts';

export interface CommandHelp {
  readonly name: string;
  readonly summary: string;
  readonly usage: string;
}

/** `/aegis help`: one line per subcommand, runbook steps first, then the built-in commands. */
export function renderHelp(steps: readonly CommandHelp[], builtins: readonly CommandHelp[]): RenderedMessage {
  const blocks: Block[] = [header('aegis commands')];
  const groups: [string, readonly CommandHelp[]][] = [
    ['Runbook steps', steps],
    ['Other commands', builtins],
  ];
  let omitted = 0;
  for (const [title, commands] of groups) {
    if (commands.length === 0) continue;
    let current = `*${title}*`;
    const flush = (): void => {
      if (blocks.length < SLACK_LIMITS.blocksPerMessage - 1) blocks.push(section(current));
      else omitted += current.split('\n').length;
      current = '';
    };
    for (const c of commands) {
      const usage = truncatePlain(oneLine(c.usage || c.name), 200);
      const summary = truncatePlain(oneLine(c.summary), 300);
      const line = `\`${escapeInlineCode(commandLine(usage))}\` — ${escapeMrkdwn(summary)}`;
      if (current.length + line.length + 1 > SLACK_LIMITS.sectionText) flush();
      current = current ? `${current}\n${line}` : line;
    }
    flush();
  }
  if (omitted > 0) blocks.push(section(`… and ${omitted} more commands`));
  return { text: 'aegis commands', blocks };
}
