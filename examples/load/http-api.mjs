// A load test of an HTTP API with troupe/load: browse the products, think, add one to the cart; the arrival
// rate ramps up, holds and ramps down (the open model: a slow API cannot hide its latency), and thresholds set
// the exit code.
//
//   troupe load run examples/load/http-api.mjs                      in this process, against a demo API it starts
//   TARGET_URL=http://127.0.0.1:3000 troupe load run examples/load/http-api.mjs     against your own service
//   troupe load run examples/load/http-api.mjs --nats nats://127.0.0.1:4222 --html report.html
//                                                    over every `troupe node --role load` on that NATS
import { createServer } from 'node:http';
import { defineLoad, http } from 'troupe/load';

/** A tiny shop API on a free loopback port, for trying the example offline (unref'd: it never holds a process). */
async function demoApi() {
  const products = [
    { id: 'p1', name: 'tea' },
    { id: 'p2', name: 'coffee' },
    { id: 'p3', name: 'cocoa' },
  ];
  const server = createServer((req, res) => {
    let body = '';
    req.on('data', (chunk) => {
      body += chunk;
    });
    req.on('end', () => {
      // A few ms of work, as a real handler would take.
      setTimeout(
        () => {
          if (req.method === 'GET' && req.url === '/products') {
            res.writeHead(200, { 'content-type': 'application/json' }).end(JSON.stringify(products));
          } else if (req.method === 'POST' && req.url === '/cart' && JSON.parse(body || '{}').product) {
            res.writeHead(201, { 'content-type': 'application/json' }).end('{"ok":true}');
          } else res.writeHead(404).end();
        },
        1 + Math.random() * 4,
      );
    });
  });
  await new Promise((resolve) => server.listen(0, '127.0.0.1', resolve));
  server.unref();
  return `http://127.0.0.1:${server.address().port}`;
}

const baseUrl = process.env.TARGET_URL ?? (await demoApi());

export default defineLoad({
  name: 'shop-api',
  // The only thing this test aims at; a host other than loopback would have to be listed in allowHosts.
  targets: { api: http(baseUrl, { connections: 20 }) },
  executor: {
    kind: 'ramping-arrival-rate',
    startRate: 10,
    stages: [
      { durationMs: 2000, target: 50 },
      { durationMs: 3000, target: 50 },
      { durationMs: 1000, target: 0 },
    ],
    preAllocatedVus: 10,
    maxVus: 40,
  },
  thresholds: [
    'p99 < 250ms',
    'step.browse.p95 < 200ms',
    'errors < 1%',
    'checks > 99%',
    'dropped_iterations < 1',
  ],
  // Runs once, where the run starts; every VU gets the result as vu.data.
  setup: () => ({ users: ['ada', 'grace', 'linus'] }),
  scenario: async (vu) => {
    const user = vu.data.users[vu.id % vu.data.users.length];
    const list = await vu.step('browse', () => vu.targets.api.get('/products'));
    vu.check('products listed', list.status === 200);
    const products = JSON.parse(list.body);
    await vu.sleep(10 + Math.random() * 20);
    const product = products[vu.iteration % products.length].id;
    const added = await vu.step('add-to-cart', () => vu.targets.api.post('/cart', { user, product }));
    vu.check('added to cart', added.status === 201);
  },
});
