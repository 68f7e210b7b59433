// How `find` ranks candidate agents: a weighted sum of their cost, latency, load and failure rate, each made
// relative to the worst candidate so that units (dollars, ms, runs) do not matter. Lower is better.

import type { AgentCard } from './card.js';

/** Weights of the score's terms; 0 ignores a term. */
export interface ScoreWeights {
  cost: number;
  latency: number;
  load: number;
  failure: number;
}

/** Cost, latency and load count alike; a failure counts double (a failed run is paid and must be redone). */
export const DEFAULT_SCORE_WEIGHTS: Readonly<ScoreWeights> = Object.freeze({
  cost: 1,
  latency: 1,
  load: 1,
  failure: 2,
});

/** What 1,000 tokens in plus 1,000 tokens out cost: the card's price `find`'s `maxCost` compares with. */
export function blendedCost(card: AgentCard): number {
  return card.costPer1kTokens.input + card.costPer1kTokens.output;
}

/**
 * Scores `cards` against each other:
 *
 *   score = w.cost · cost/maxCost + w.latency · p50/maxP50 + w.load · load/maxLoad + w.failure · (1 − successRate)
 *
 * where cost is {@link blendedCost}, and each max is over `cards` (a term whose max is 0 adds 0). So the
 * cheapest, fastest, least loaded, most reliable candidate scores lowest; an unmeasured agent (p50 0, success 1)
 * counts as fast and reliable, so new agents get tried.
 */
export function scoreCards(
  cards: readonly AgentCard[],
  weights: Readonly<ScoreWeights> = DEFAULT_SCORE_WEIGHTS,
): number[] {
  let maxCost = 0;
  let maxLatency = 0;
  let maxLoad = 0;
  for (const card of cards) {
    maxCost = Math.max(maxCost, blendedCost(card));
    maxLatency = Math.max(maxLatency, card.p50LatencyMs);
    maxLoad = Math.max(maxLoad, card.load);
  }
  const part = (value: number, max: number) => (max > 0 ? value / max : 0);
  return cards.map(
    (card) =>
      weights.cost * part(blendedCost(card), maxCost) +
      weights.latency * part(card.p50LatencyMs, maxLatency) +
      weights.load * part(card.load, maxLoad) +
      weights.failure * (1 - card.successRate),
  );
}
