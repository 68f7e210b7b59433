// The capability card an agent publishes: who it is, what it can do, what it costs, and how it has been doing
// lately. Stored as JSON under `agents.cards.<kvToken(name)>.<kvToken(address)>` in a KeyValueStore.

import { kvToken, TroupeError } from '../../runtime/index.js';
import { RegistryError, RegistryErrorCode } from './errors.js';

/** Default key prefix of the cards (the store's keys are `<prefix>.<name token>.<address token>`). */
export const DEFAULT_CARD_PREFIX = 'agents.cards';

/** Price of 1,000 tokens, in the unit the models layer bills in (e.g. USD). */
export interface TokenCost {
  input: number;
  output: number;
}

/** A published capability card. */
export interface AgentCard {
  /** The agent's name (its definition's name; several instances share it). */
  name: string;
  /** The address to ask (`node/path`, or `$v/<type>/<id>` for a virtual actor): one card per address. */
  address: string;
  /** The node hosting it. */
  node: string;
  description: string;
  capabilities: string[];
  /** The model (router group) it calls. */
  model: string;
  costPer1kTokens: TokenCost;
  /** Median latency of its recent runs, in ms (0 until it has run). */
  p50LatencyMs: number;
  /** Share of its recent runs that succeeded, 0..1 (1 until it has run). */
  successRate: number;
  /** Runs in flight now. */
  load: number;
  /** When the card was last written (epoch ms); a card not refreshed within `staleAfterMs` is stale. */
  updatedAt: number;
}

/** The measured part of a card, what `update` changes. */
export type AgentStats = Pick<AgentCard, 'p50LatencyMs' | 'successRate' | 'load'>;

/** What `publish` takes: the card without its timestamp; stats default to an unmeasured agent's, `node` to the
 * address's first segment. */
export type AgentCardInput = Omit<AgentCard, 'updatedAt' | 'node' | keyof AgentStats> &
  Partial<AgentStats> & { node?: string };

/** The store key of the card of `address` under `name`. */
export function cardKey(name: string, address: string, prefix = DEFAULT_CARD_PREFIX): string {
  return `${prefix}.${kvToken(name)}.${kvToken(address)}`;
}

/** Name and address of a card key (undefined for a key that is not one). */
export function parseCardKey(
  key: string,
  prefix = DEFAULT_CARD_PREFIX,
): { name: string; address: string } | undefined {
  if (!key.startsWith(`${prefix}.`)) return undefined;
  const tokens = key.slice(prefix.length + 1).split('.');
  if (tokens.length !== 2) return undefined;
  const decode = (t: string) => (t === '_' ? '' : Buffer.from(t, 'base64url').toString());
  return { name: decode(tokens[0] as string), address: decode(tokens[1] as string) };
}

const invalid = (field: string, why: string): RegistryError =>
  new RegistryError(RegistryErrorCode.InvalidCard, `card.${field}: ${why}`);

const nonNegative = (value: unknown): value is number =>
  typeof value === 'number' && Number.isFinite(value) && value >= 0;

/** Throws `REGISTRY_INVALID_CARD` unless the stats are numbers in range. */
export function checkStats(stats: Partial<AgentStats>): void {
  if (stats.p50LatencyMs !== undefined && !nonNegative(stats.p50LatencyMs))
    throw invalid('p50LatencyMs', 'expected a number >= 0');
  if (
    stats.successRate !== undefined &&
    !(nonNegative(stats.successRate) && (stats.successRate as number) <= 1)
  )
    throw invalid('successRate', 'expected a number in 0..1');
  if (stats.load !== undefined && !(Number.isInteger(stats.load) && (stats.load as number) >= 0))
    throw invalid('load', 'expected an integer >= 0');
}

/** The full card of `input` at `now`; throws `REGISTRY_INVALID_CARD` naming the first bad field. */
export function toCard(input: AgentCardInput, now: number): AgentCard {
  if (typeof input !== 'object' || input === null) throw invalid('', 'expected an object');
  for (const field of ['name', 'address', 'model'] as const)
    if (typeof input[field] !== 'string' || input[field] === '')
      throw invalid(field, 'expected a non-empty string');
  const node = input.node ?? (input.address.startsWith('$') ? '' : input.address.split('/')[0]);
  if (typeof node !== 'string' || node === '')
    throw invalid('node', 'expected a non-empty string (an address without a node needs it)');
  if (typeof input.description !== 'string') throw invalid('description', 'expected a string');
  if (
    !Array.isArray(input.capabilities) ||
    !input.capabilities.every((c) => typeof c === 'string' && c !== '')
  )
    throw invalid('capabilities', 'expected an array of non-empty strings');
  const cost = input.costPer1kTokens;
  if (typeof cost !== 'object' || cost === null || !nonNegative(cost.input) || !nonNegative(cost.output))
    throw invalid('costPer1kTokens', 'expected { input, output }, numbers >= 0');
  checkStats(input);
  return {
    name: input.name,
    address: input.address,
    node: node as string,
    description: input.description,
    capabilities: [...new Set(input.capabilities)],
    model: input.model,
    costPer1kTokens: { input: cost.input, output: cost.output },
    p50LatencyMs: input.p50LatencyMs ?? 0,
    successRate: input.successRate ?? 1,
    load: input.load ?? 0,
    updatedAt: now,
  };
}

/** A stored card, or undefined for a value that is not one (written by something else, or corrupt). */
export function parseCard(value: string): AgentCard | undefined {
  try {
    const card = JSON.parse(value) as AgentCard;
    return nonNegative(card?.updatedAt) ? toCard(card, card.updatedAt) : undefined;
  } catch (err) {
    if (err instanceof SyntaxError || TroupeError.is(err)) return undefined;
    throw err;
  }
}
