// Node types a JSON definition may use without any code of its own: `set` (a constant update), `template`
// (`{{path}}` placeholders filled from the state) and `input` (waits for a human: an interrupt). Shared by
// `troupe graph run` and the gateway's POST /graph/custom, so a definition means the same in both.

import { InvalidOptionsError } from '../../runtime/index.js';
import type { GraphRegistry } from './json.js';

type Bag = Record<string, unknown>;

/** `{{a.b}}` placeholders filled from the state (missing paths become ''; non-strings as JSON). */
export function fillTemplate(text: string, state: Readonly<Bag>): string {
  return text.replace(/\{\{\s*([\w.]+)\s*\}\}/g, (_, path: string) => {
    let v: unknown = state;
    for (const key of path.split('.')) {
      if (typeof v !== 'object' || v === null || !Object.hasOwn(v, key)) return '';
      v = (v as Bag)[key];
    }
    return typeof v === 'string' ? v : JSON.stringify(v);
  });
}

/** The node's config, checked to hold a string at each of `keys`; throws INVALID_OPTIONS naming the node. */
export function stringConfig(config: unknown, name: string, keys: readonly string[]): Record<string, string> {
  const c = config as Record<string, unknown>;
  for (const k of keys)
    if (typeof c?.[k] !== 'string')
      throw new InvalidOptionsError(`nodes.${name}.config.${k}`, 'expected a string');
  return c as Record<string, string>;
}

/** The stock node types: `set`, `template`, `input`. */
export function stockNodes(): GraphRegistry['nodes'] {
  return {
    set: (config) => () => structuredClone(config as Bag),
    template: (config, name) => {
      const { field, text } = stringConfig(config, name, ['field', 'text']);
      return (state) => ({ [field as string]: fillTemplate(text as string, state) });
    },
    input: (config, name) => {
      const { field, question } = stringConfig(config, name, ['field', 'question']);
      return (state, ctx) => ({ [field as string]: ctx.interrupt(fillTemplate(question as string, state)) });
    },
  };
}
