// The runner's command connection: what is not a job goes through it (the events' starting point,
// cancellations, pings, counts). It reconnects on its own; after a reconnect the pending runs are audited,
// since outcomes published while it was away were never heard.

import { Redis } from 'ioredis';
import { type ResolvedBullmqOptions, redactUrl } from './options.js';

/** @internal Opens the command connection; `onReconnect` runs on each `ready` after the first. */
export function openControl(
  config: ResolvedBullmqOptions,
  onError: (err: unknown) => void,
  onReconnect: () => void,
): Redis {
  const control = new Redis(config.url, { maxRetriesPerRequest: null, lazyConnect: false });
  control.on('error', onError);
  let connectedOnce = false;
  control.on('ready', () => {
    if (!connectedOnce) {
      connectedOnce = true;
      return;
    }
    config.logger.info('Redis reconnected', { redis: redactUrl(config.url) });
    onReconnect();
  });
  return control;
}
