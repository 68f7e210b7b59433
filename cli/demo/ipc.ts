// What the demo process and its node processes (`--nats`) tell each other over the IPC channel of
// `child_process.fork`: the model, the fleet and the narrator are on NATS; this channel only carries what a
// narrator needs to tell the story in order (the task starting, the supervisor's decision) and its commands.

import type { LogLevel } from '../../runtime/index.js';
import type { NatsAuthOptions } from '../../transport/index.js';

/** The environment variable that carries a node process's NATS credentials (JSON): never on its command line. */
export const AUTH_ENV = 'TROUPE_DEMO_NATS_AUTH';

export type NodeRole = 'worker' | 'node-a' | 'node-b';

/** A node process's settings: its only argument, as JSON. */
export interface NodeConfig {
  role: NodeRole;
  nats: string;
  /** NATS credentials and TLS files; they travel in {@link AUTH_ENV}, not in the JSON argument `ps` shows. */
  auth?: NatsAuthOptions | undefined;
  redis: string | undefined;
  namespace: string;
  /** The demo process's offline model server; undefined with `openai`. */
  modelUrl: string | undefined;
  openai: { model: string } | undefined;
  /** The narrator's address, for the agents' step events. */
  narrator: string;
  /** The runtime's logs (to stderr) as the demo was asked for them; none when undefined. */
  log: { level: LogLevel; format: 'json' | 'pretty' | 'auto' } | undefined;
}

/** From a node process. */
export type NodeMessage =
  | { type: 'ready' }
  | { type: 'task'; runs: number }
  | { type: 'capped'; address: string }
  | { type: 'decision'; decision: string }
  | { type: 'stopped'; stopped: boolean }
  | { type: 'flushed' }
  | { type: 'failed'; code: string; message: string };

/** To a node process. */
export type DemoCommand = { type: 'continue' } | { type: 'capped' } | { type: 'flush' };
