// Test fixture for unit tests: systems created through it are closed after each test.

import { afterEach } from 'vitest';
import { type ActorSystem, createSystem, type SystemOptions } from '../../runtime/index.js';

/**
 * Returns a factory for systems (node id `n` unless given) that are all closed after each test of the file
 * that calls it.
 */
export function systemsClosedAfterEach(
  defaults: SystemOptions = {},
): (options?: SystemOptions) => Promise<ActorSystem> {
  const systems: ActorSystem[] = [];
  afterEach(async () => {
    await Promise.all(systems.splice(0).map((s) => s.close()));
  });
  return async (options = {}) => {
    const s = await createSystem({ nodeId: 'n', ...defaults, ...options });
    systems.push(s);
    return s;
  };
}

/** Lets queued microtasks and immediates run (restarts take a few hops); no clock time passes. */
export async function settle(rounds = 5): Promise<void> {
  for (let i = 0; i < rounds; i++) await new Promise((resolve) => setImmediate(resolve));
}
