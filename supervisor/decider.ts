// Deciders: which directive (restart, resume, stop, escalate) an error calls for.

import { type Decider, type Directive, InvalidOptionsError, TroupeError } from '../runtime/index.js';

const DIRECTIVES: readonly string[] = ['restart', 'resume', 'stop', 'escalate'];

function assertDirective(directive: unknown, field: string): void {
  if (typeof directive !== 'string' || !DIRECTIVES.includes(directive))
    throw new InvalidOptionsError(
      field,
      `the directive must be restart, resume, stop or escalate, got ${String(directive)}`,
    );
}

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
  if (!Array.isArray(rules))
    throw new InvalidOptionsError('rules', 'expected an array of [matcher, directive]');
  assertDirective(fallback, 'fallback');
  const copy = rules.map((rule, i) => {
    if (!Array.isArray(rule) || rule.length !== 2)
      throw new InvalidOptionsError(`rules[${i}]`, 'expected [matcher, directive]');
    const [m, d] = rule as unknown as DeciderRule;
    if (typeof m !== 'string' && typeof m !== 'function')
      throw new InvalidOptionsError(
        `rules[${i}]`,
        'the matcher must be an error code, an error class or a predicate',
      );
    assertDirective(d, `rules[${i}]`);
    return [m, d] as const;
  });
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
