// Runs once before the suite: makes sure nats-server and redis-server exist (installing them on Debian as root).

import { ensureServerBinaries } from '../../testing/index.js';

export default function setup(): void {
  ensureServerBinaries(['nats-server', 'redis-server']);
}
