import { RE2JS, RE2JSException } from 're2js';
import { AppError } from '../../domain/errors.ts';

/**
 * Patterns from outside (`list <regex>`, `--list`, a profile's drop_frames/keep_frames) compiled
 * as `go tool pprof` compiles them: Go's regexp, i.e. RE2 syntax, matched in time linear in the
 * input. re2js is a pure-JS port of RE2/J (no native build), so a pattern such as
 * `^([a-z.]+)+Q$` cannot backtrack catastrophically on the event loop, and Perl-only syntax
 * (backreferences, lookaround) is refused with a usage message, as pprof refuses it.
 */
export interface GoPattern {
  readonly source: string;
  /** True when the pattern matches anywhere in `s` (Go's MatchString). */
  test(s: string): boolean;
}

/** Compiles `source`; `what` names it in the usage message ("list pattern"). */
export function goPattern(source: string, what: string): GoPattern {
  let re: RE2JS;
  try {
    re = RE2JS.compile(source);
  } catch (e) {
    if (!(e instanceof RE2JSException)) throw e;
    const why = e.message.replace(/^error parsing regexp: /, '');
    throw new AppError(
      'usage',
      `the ${what} "${source}" is not valid RE2 syntax (Go's regexp, as go tool pprof uses; no backreferences or lookaround): ${why}`,
      { cause: e },
    );
  }
  return { source, test: (s) => re.test(s) };
}

/** A pattern matching `s` literally. */
export function quotePattern(s: string): string {
  return RE2JS.quote(s);
}
