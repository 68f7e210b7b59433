// Worker role of `load-http`: the local HTTP target, a plain node:http server answering `ok`, in its own process
// so it never shares an event loop with the load generator it serves.

import { createServer } from 'node:http';
import type { AddressInfo } from 'node:net';
import type { RoleCommands } from '../scenario.js';

export async function httpTargetRole(): Promise<RoleCommands> {
  let hits = 0;
  const server = createServer((req, res) => {
    hits++;
    req.resume();
    res.writeHead(200, { 'content-type': 'text/plain', 'content-length': '2' }).end('ok');
  });
  server.keepAliveTimeout = 60_000;
  await new Promise<void>((resolve) => server.listen(0, '127.0.0.1', resolve));
  const { port } = server.address() as AddressInfo;
  return {
    url: () => `http://127.0.0.1:${port}`,
    hits: () => hits,
    async close() {
      server.closeAllConnections();
      await new Promise<void>((resolve) => server.close(() => resolve()));
    },
  };
}
