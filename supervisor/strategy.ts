// Supervisor strategies: which children restart when one fails (OTP one_for_one, one_for_all, rest_for_one).

import { SupervisorError, SupervisorErrorCode } from './errors.js';

/**
 * Chooses the children to restart when one fails. The supervisor restarts them in start order; temporary
 * children among them are stopped instead.
 */
export interface SupervisorStrategy {
  readonly kind: string;
  /** Names to restart when `failed` failed, given the children's names in start order. */
  select(failed: string, order: readonly string[]): string[];
}

/** Only the failed child restarts. */
export const oneForOne: SupervisorStrategy = Object.freeze({
  kind: 'one-for-one',
  select: (failed: string) => [failed],
});

/** Every child restarts: for children that cannot work without each other. */
export const oneForAll: SupervisorStrategy = Object.freeze({
  kind: 'one-for-all',
  select: (_failed: string, order: readonly string[]) => [...order],
});

/** The failed child and every child started after it: for chains where later children depend on earlier ones. */
export const restForOne: SupervisorStrategy = Object.freeze({
  kind: 'rest-for-one',
  select: (failed: string, order: readonly string[]) => {
    const i = order.indexOf(failed);
    return i < 0 ? [failed] : order.slice(i);
  },
});

export type StrategyName = 'one-for-one' | 'one-for-all' | 'rest-for-one';

/** The strategy for a name, or the strategy itself. */
export function strategyOf(strategy: SupervisorStrategy | StrategyName | undefined): SupervisorStrategy {
  if (strategy === undefined || strategy === 'one-for-one') return oneForOne;
  if (strategy === 'one-for-all') return oneForAll;
  if (strategy === 'rest-for-one') return restForOne;
  if (typeof strategy !== 'object' || strategy === null || typeof strategy.select !== 'function')
    throw new SupervisorError(
      SupervisorErrorCode.InvalidSpec,
      `strategy must be one-for-one, one-for-all, rest-for-one or { kind, select }, got ${String(strategy)}`,
    );
  return strategy;
}
