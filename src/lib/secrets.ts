/**
 * Secret-looking text, found by shape, replaced with ***: for log lines, `aegis doctor` output and
 * summaries of what an outside system answered. Key names are matched with bounded repetitions,
 * so a long line does not cost quadratic time (this runs on every string the bot logs).
 */

/** The words that make a key name secret when it ends in one ("bot_token", "x-api-key"). */
const SECRET_WORD =
  '(?:token|secret|password|passwd|authorization|routing[_-]?key|api[_-]?key|private[_-]?key|access[_-]?key|client[_-]?secret|signing[_-]?secret|cookie)';

/** Secret-looking strings, each with what replaces it. Order matters: URLs before bare tokens. */
const SECRET_PATTERNS: readonly [RegExp, string | ((match: string, ...groups: string[]) => string)][] = [
  // user:password@ in any URL (postgres://, postgresql://, redis://, https://): keep the user, hide the password
  [/\b([a-z][a-z0-9+.-]*:\/\/[^\s:/@]*:)[^\s@/]+@/gi, '$1***@'],
  // Slack bot/user/app-config/refresh tokens and app-level tokens
  [/\bxox[a-z]-[A-Za-z0-9-]+/g, 'xox*-***'],
  [/\bxapp-[A-Za-z0-9-]+/g, 'xapp-***'],
  // Authorization: Bearer <token> / Basic <credentials>
  [/\b(Bearer|Basic)\s+[A-Za-z0-9\-._~+/]+=*/g, '$1 ***'],
  // JSON (also JSON inside a JSON string, \"...\"): "routing_key":"...", "token": "...", "api_key":12345
  [
    new RegExp(
      String.raw`((\\?)["'][A-Za-z0-9_.-]{0,40}?${SECRET_WORD}\2["']\s*:\s*)(?:(\\?["'])(?!\*\*\*)[^"'\\]*|(?![{\[]|\*\*\*|null\b|true\b|false\b)[^\s,;&"'}\]]+)`,
      'gi',
    ),
    // a quoted value keeps its quote; a bare one (a number) becomes a string, so JSON stays JSON
    (_m, key: string, backslash: string, quote: string | undefined) =>
      quote ? `${key}${quote}***` : `${key}${backslash}"***${backslash}"`,
  ],
  // secrets in query strings and form bodies: ?token=..., &password=..., routing_key=... at the start
  [
    new RegExp(
      String.raw`((?:[?&](?:key|signature)|(?:^|[?&\s])[A-Za-z0-9_.-]{0,40}?${SECRET_WORD})=)(?!\*\*\*)[^&\s#"']+`,
      'gi',
    ),
    '$1***',
  ],
  // key=value / key: value forms in free text, e.g. "password=hunter2", "routing_key: abc"
  [
    /\b((?:password|passwd|secret|token|routing_key|api_key|signing_secret)\s*[=:]\s*)(?!\*\*\*)[^\s,;&"'}]+/gi,
    '$1***',
  ],
];

/** Replaces Slack tokens, URL passwords, bearer tokens and key=value secrets in free text with ***. */
export function scrubSecrets(text: string): string {
  let out = text;
  for (const [pattern, replacement] of SECRET_PATTERNS) {
    out =
      typeof replacement === 'string' ? out.replace(pattern, replacement) : out.replace(pattern, replacement);
  }
  return out;
}
