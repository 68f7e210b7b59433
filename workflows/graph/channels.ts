// The state's channels at work: field defaults for a fresh state, and partial updates folded in through reducers.

import { WorkflowError, WorkflowErrorCode } from './errors.js';
import type { Reducer } from './reducers.js';
import type { StateSpec } from './types.js';

type Bag = Record<string, unknown>;

/** @internal The field defaults with `input` folded in. */
export function initialState<S>(spec: StateSpec<S>, input: Partial<S> | undefined): Bag {
  const state: Bag = {};
  for (const [key, channel] of Object.entries(spec) as [string, unknown][])
    if (typeof channel === 'object' && channel !== null && typeof (channel as Bag).default === 'function')
      state[key] = ((channel as Bag).default as () => unknown)();
  applyUpdate(spec, state, input, 'input');
  return state;
}

/** @internal Folds one partial update into `state` through the reducers; throws GRAPH_INVALID on a bad one. */
export function applyUpdate<S>(spec: StateSpec<S>, state: Bag, update: unknown, from: string): void {
  if (update === undefined || update === null) return;
  if (typeof update !== 'object' || Array.isArray(update))
    throw new WorkflowError(
      WorkflowErrorCode.Invalid,
      `${from} returned ${typeof update}, not a partial state`,
    );
  for (const [key, value] of Object.entries(update as Bag)) {
    if (value === undefined) continue;
    if (!Object.hasOwn(spec, key))
      throw new WorkflowError(
        WorkflowErrorCode.Invalid,
        `${from} updated "${key}", which is not a state field`,
        {
          data: { node: from, field: key },
        },
      );
    const channel = (spec as Bag)[key];
    const reducer = (typeof channel === 'function' ? channel : (channel as { reducer?: unknown }).reducer) as
      | Reducer<unknown>
      | undefined;
    // A field never set (and without a default) takes the first update as is.
    state[key] = reducer === undefined || !Object.hasOwn(state, key) ? value : reducer(state[key], value);
  }
}
