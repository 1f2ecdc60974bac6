/**
 * Slack's documented Block Kit limits, and a check that proves a message stays inside them.
 * Renderers degrade to fit (truncate with a marker, move output to a file); `blockProblems` is the
 * referee tests use, and the last guard before a message leaves render/.
 */
export const SLACK_LIMITS = {
  blocksPerMessage: 50,
  sectionText: 3000,
  sectionFields: 10,
  fieldText: 2000,
  headerText: 150,
  contextElements: 10,
  contextText: 3000,
  actionsElements: 25,
  buttonText: 75,
  buttonValue: 2000,
  buttonUrl: 3000,
  actionId: 255,
  blockId: 255,
  confirmTitle: 100,
  confirmText: 300,
  confirmButton: 30,
  /** chat.postMessage truncates `text` beyond 40,000; we keep the fallback far shorter. */
  messageText: 3000,
} as const;

type Json = Record<string, unknown>;

function isObject(value: unknown): value is Json {
  return typeof value === 'object' && value !== null && !Array.isArray(value);
}

/** Problems with one text object: wrong type, empty, or longer than `max`. */
function textProblems(
  where: string,
  value: unknown,
  max: number,
  allowed: readonly string[] = ['plain_text', 'mrkdwn'],
): string[] {
  if (!isObject(value)) return [`${where}: missing text object`];
  const problems: string[] = [];
  if (typeof value.type !== 'string' || !allowed.includes(value.type)) {
    problems.push(`${where}: text type ${String(value.type)} not allowed (${allowed.join(', ')})`);
  }
  if (typeof value.text !== 'string') return [...problems, `${where}: text is not a string`];
  if (value.text.trim().length === 0) problems.push(`${where}: text is empty`);
  if (value.text.length > max)
    problems.push(`${where}: text is ${value.text.length} characters, limit ${max}`);
  return problems;
}

function buttonProblems(where: string, el: Json): string[] {
  const problems = textProblems(`${where}.text`, el.text, SLACK_LIMITS.buttonText, ['plain_text']);
  if (typeof el.action_id === 'string' && el.action_id.length > SLACK_LIMITS.actionId) {
    problems.push(`${where}: action_id is ${el.action_id.length} characters, limit ${SLACK_LIMITS.actionId}`);
  }
  if (el.value !== undefined) {
    if (typeof el.value !== 'string') problems.push(`${where}: value is not a string`);
    else if (el.value.length > SLACK_LIMITS.buttonValue) {
      problems.push(`${where}: value is ${el.value.length} characters, limit ${SLACK_LIMITS.buttonValue}`);
    }
  }
  if (typeof el.url === 'string' && el.url.length > SLACK_LIMITS.buttonUrl) {
    problems.push(`${where}: url is ${el.url.length} characters, limit ${SLACK_LIMITS.buttonUrl}`);
  }
  if (el.style !== undefined && el.style !== 'primary' && el.style !== 'danger') {
    problems.push(`${where}: style ${String(el.style)} is neither primary nor danger`);
  }
  if (el.confirm !== undefined) {
    const c = el.confirm;
    if (!isObject(c)) return [...problems, `${where}.confirm: not an object`];
    if (c.title !== undefined) {
      problems.push(
        ...textProblems(`${where}.confirm.title`, c.title, SLACK_LIMITS.confirmTitle, ['plain_text']),
      );
    }
    problems.push(...textProblems(`${where}.confirm.text`, c.text, SLACK_LIMITS.confirmText));
    for (const key of ['confirm', 'deny'] as const) {
      if (c[key] !== undefined) {
        problems.push(
          ...textProblems(`${where}.confirm.${key}`, c[key], SLACK_LIMITS.confirmButton, ['plain_text']),
        );
      }
    }
    if (c.style !== undefined && c.style !== 'primary' && c.style !== 'danger') {
      problems.push(`${where}.confirm: style ${String(c.style)} is neither primary nor danger`);
    }
  }
  return problems;
}

function oneBlockProblems(where: string, block: Json): string[] {
  const problems: string[] = [];
  if (block.block_id !== undefined) {
    if (typeof block.block_id !== 'string' || block.block_id.length > SLACK_LIMITS.blockId) {
      problems.push(`${where}: block_id must be a string of at most ${SLACK_LIMITS.blockId} characters`);
    }
  }
  switch (block.type) {
    case 'header':
      problems.push(...textProblems(`${where}.text`, block.text, SLACK_LIMITS.headerText, ['plain_text']));
      break;
    case 'divider':
      break;
    case 'section': {
      const fields = block.fields;
      if (block.text === undefined && fields === undefined) problems.push(`${where}: needs text or fields`);
      if (block.text !== undefined) {
        problems.push(...textProblems(`${where}.text`, block.text, SLACK_LIMITS.sectionText));
      }
      if (fields !== undefined) {
        if (!Array.isArray(fields) || fields.length === 0)
          problems.push(`${where}: fields must be a non-empty array`);
        else {
          if (fields.length > SLACK_LIMITS.sectionFields) {
            problems.push(`${where}: ${fields.length} fields, limit ${SLACK_LIMITS.sectionFields}`);
          }
          fields.forEach((f, i) => {
            problems.push(...textProblems(`${where}.fields[${i}]`, f, SLACK_LIMITS.fieldText));
          });
        }
      }
      break;
    }
    case 'context': {
      const elements = block.elements;
      if (!Array.isArray(elements) || elements.length === 0) {
        problems.push(`${where}: elements must be a non-empty array`);
        break;
      }
      if (elements.length > SLACK_LIMITS.contextElements) {
        problems.push(`${where}: ${elements.length} elements, limit ${SLACK_LIMITS.contextElements}`);
      }
      elements.forEach((el, i) => {
        problems.push(...textProblems(`${where}.elements[${i}]`, el, SLACK_LIMITS.contextText));
      });
      break;
    }
    case 'actions': {
      const elements = block.elements;
      if (!Array.isArray(elements) || elements.length === 0) {
        problems.push(`${where}: elements must be a non-empty array`);
        break;
      }
      if (elements.length > SLACK_LIMITS.actionsElements) {
        problems.push(`${where}: ${elements.length} elements, limit ${SLACK_LIMITS.actionsElements}`);
      }
      const ids = new Set<string>();
      elements.forEach((el, i) => {
        if (!isObject(el) || el.type !== 'button') {
          problems.push(`${where}.elements[${i}]: only buttons are produced here`);
          return;
        }
        if (typeof el.action_id === 'string') {
          if (ids.has(el.action_id))
            problems.push(`${where}: action_id ${el.action_id} repeats within the block`);
          ids.add(el.action_id);
        }
        problems.push(...buttonProblems(`${where}.elements[${i}]`, el));
      });
      break;
    }
    default:
      problems.push(`${where}: unexpected block type ${String(block.type)}`);
  }
  return problems;
}

/**
 * Every way `blocks` would break a Slack limit (empty when the message is safe to send).
 * `maxBlocks` may lower the 50-block ceiling, never raise it.
 */
export function blockProblems(
  blocks: readonly unknown[],
  maxBlocks: number = SLACK_LIMITS.blocksPerMessage,
): string[] {
  const limit = Math.min(maxBlocks, SLACK_LIMITS.blocksPerMessage);
  const problems: string[] = [];
  if (blocks.length > limit) problems.push(`message: ${blocks.length} blocks, limit ${limit}`);
  const blockIds = new Set<string>();
  blocks.forEach((block, i) => {
    const where = `blocks[${i}]`;
    if (!isObject(block)) {
      problems.push(`${where}: not an object`);
      return;
    }
    if (typeof block.block_id === 'string') {
      if (blockIds.has(block.block_id)) problems.push(`${where}: block_id ${block.block_id} repeats`);
      blockIds.add(block.block_id);
    }
    problems.push(...oneBlockProblems(where, block));
  });
  return problems;
}

/** `blockProblems` plus the notification text, which must be present and short. */
export function messageProblems(
  message: { readonly text: string; readonly blocks: readonly unknown[] },
  maxBlocks?: number,
): string[] {
  const problems: string[] = [];
  if (message.text.trim().length === 0) problems.push('message: notification text is empty');
  if (message.text.length > SLACK_LIMITS.messageText) {
    problems.push(
      `message: notification text is ${message.text.length} characters, limit ${SLACK_LIMITS.messageText}`,
    );
  }
  return [...problems, ...blockProblems(message.blocks, maxBlocks)];
}
