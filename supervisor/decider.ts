// Deciders: which directive (restart, resume, stop, escalate) an error calls for.

import { type Decider, type Directive, TroupeError } from '../runtime/index.js';

/** What a rule matches: an error code (string), an error class, or a predicate. */
export type ErrorMatcher =
  | string
  | (abstract new (
      ...args: never[]
    ) => Error)
  | ((error: unknown) => boolean);

/** One rule of {@link decider}: the first that matches wins. */
export type DeciderRule = readonly [match: ErrorMatcher, directive: Directive];

function matches(matcher: ErrorMatcher, error: unknown): boolean {
  if (typeof matcher === 'string') {
    return (
      (TroupeError.is(error) && error.code === matcher) ||
      (typeof error === 'object' && error !== null && (error as { code?: unknown }).code === matcher)
    );
  }
  if (matcher.prototype instanceof Error || matcher === Error) {
    return error instanceof (matcher as abstract new (...args: never[]) => Error);
  }
  return (matcher as (error: unknown) => boolean)(error);
}

/**
 * Builds a decider from rules checked in order, with a fallback.
 *
 * @example
 * const decide = decider([
 *   [TypeError, 'stop'],              // a bug: restarting will not help
 *   ['RATE_LIMITED', 'resume'],       // keep state, try the message again
 *   [(e) => e instanceof FatalError, 'escalate'],
 * ], 'restart');
 */
export function decider(rules: readonly DeciderRule[], fallback: Directive = 'restart'): Decider {
  const copy = rules.map(([m, d]) => [m, d] as const);
  return (error) => {
    for (const [matcher, directive] of copy) {
      if (matches(matcher, error)) return directive;
    }
    return fallback;
  };
}

export const alwaysRestart: Decider = () => 'restart';
export const alwaysResume: Decider = () => 'resume';
export const alwaysStop: Decider = () => 'stop';
export const alwaysEscalate: Decider = () => 'escalate';
