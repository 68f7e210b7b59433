// What an agent tells the fleet's registry about itself: a capability card when it starts, its latency,
// success rate and load as runs start and end, and its removal when it stops. The registry throttles writes
// (at most one per second per agent) and never throws; a store outage only costs a log line here.

import type { Logger } from '../../runtime/index.js';
import type { AgentRegistry } from '../registry/index.js';

/** What an agent publishes in its card, besides its address and measured stats. */
export interface CardInfo {
  name: string;
  description: string;
  capabilities: readonly string[];
  model: string;
  costPer1kTokens: { input: number; output: number };
}

/** @internal The agent side of the registry. */
export interface AgentCards {
  started(address: string, info: CardInfo): void;
  load(address: string, inFlight: number): void;
  ended(address: string, ok: boolean, latencyMs: number, inFlight: number): void;
  stopped(address: string): void;
}

/** @internal Cards on `registry`, with failures logged (an agent never fails because the registry is away). */
export function agentCards(registry: AgentRegistry, logger: Logger): AgentCards {
  const warn = (what: string, address: string) => (err: unknown) =>
    logger.warn(`agent card not ${what}`, { address, err });
  return {
    started(address, info) {
      registry
        .publish({
          name: info.name,
          address,
          description: info.description,
          capabilities: [...info.capabilities],
          model: info.model,
          costPer1kTokens: info.costPer1kTokens,
        })
        .catch(warn('published', address));
    },
    load(address, inFlight) {
      registry.setLoad(address, inFlight);
    },
    ended(address, ok, latencyMs, inFlight) {
      registry.record(address, { latencyMs, ok });
      registry.setLoad(address, inFlight);
    },
    stopped(address) {
      registry.remove(address).catch(warn('removed', address));
    },
  };
}
