// The HTTP target's connection pool: undici `Client`s (one keep-alive connection each) handed out in O(1).
//
// undici's own `Pool` scans its clients for one with room on every dispatch, and again after it when the
// chosen one filled up, and relays each client's `drain` event through a bound listener: about 4 % of a load
// generator's CPU with 64 busy connections. Here a connection with room sits on a stack, a request finding
// none waits in a FIFO, and a finished request hands its connection to the next waiting one directly.

import type { EventEmitter } from 'node:events';
import { Client, type Dispatcher } from 'undici';
import { Deque } from '../../runtime/internal.js';

/** What a pooled request's handler must do: tell its connection when undici is done with it (end or error). */
export interface PooledHandler extends Dispatcher.DispatchHandler {
  /** Set by the pool when the request is given a connection. */
  connection: PoolConnection | undefined;
  /** Fails a request the pool will never send (closed or destroyed first). */
  fail(error: unknown): void;
}

/** Options of {@link HttpPool}. */
export interface HttpPoolOptions {
  /** Connections opened at most (each on first need). */
  connections: number;
  /** Requests in flight per connection. */
  pipelining: number;
  headersTimeout: number;
  bodyTimeout: number;
}

/** One keep-alive connection of a pool and the requests it carries now. */
export class PoolConnection {
  readonly client: Client;
  inFlight = 0;
  readonly #pool: HttpPool;

  constructor(pool: HttpPool, client: Client) {
    this.#pool = pool;
    this.client = client;
  }

  /** undici is done with one of this connection's requests. Call once per request. */
  release(): void {
    this.#pool.released(this);
  }
}

/** The error of a request the pool was closed or destroyed before it could send. */
function poolClosed(destroyed: boolean): Error {
  return Object.assign(new Error(destroyed ? 'the pool was destroyed' : 'the pool is closed'), {
    code: destroyed ? 'UND_ERR_DESTROYED' : 'UND_ERR_CLOSED',
  });
}

/**
 * Keep-alive connections to one origin, at most `connections`, each carrying up to `pipelining` requests.
 * Requests beyond that wait in order. `close()` lets queued and in-flight requests finish; `destroy()` fails
 * them all at once.
 */
export class HttpPool {
  readonly #origin: string;
  readonly #options: HttpPoolOptions;
  readonly #all: PoolConnection[] = [];
  /** Connections with room (`inFlight < pipelining`), each once; the most recently freed on top. */
  readonly #free: PoolConnection[] = [];
  readonly #waiting = new Deque<[Dispatcher.DispatchOptions, PooledHandler]>();
  #state: 'open' | 'closing' | 'destroyed' = 'open';
  #drained: (() => void) | undefined;
  #closing: Promise<void> | undefined;

  constructor(origin: string, options: HttpPoolOptions) {
    this.#origin = origin;
    this.#options = options;
  }

  /** Sends `request` on a connection with room, opening one if the pool may; else queues it. */
  dispatch(request: Dispatcher.DispatchOptions, handler: PooledHandler): void {
    if (this.#state !== 'open') {
      handler.fail(poolClosed(this.#state === 'destroyed'));
      return;
    }
    const connection = this.#free.pop() ?? this.#open();
    if (connection === undefined) {
      this.#waiting.push([request, handler]);
      return;
    }
    connection.inFlight++;
    if (connection.inFlight < this.#options.pipelining) this.#free.push(connection);
    this.#start(connection, request, handler);
  }

  /** @internal A connection finished a request: the next waiting one takes its place, or it has room again. */
  released(connection: PoolConnection): void {
    if (this.#state === 'destroyed') {
      connection.inFlight--;
      return;
    }
    // Requests wait only while no connection has room, so this one was full and stays so: it is not on `#free`.
    const next = this.#waiting.shift();
    if (next !== undefined) {
      this.#start(connection, next[0], next[1]);
      return;
    }
    connection.inFlight--;
    if (connection.inFlight === this.#options.pipelining - 1) this.#free.push(connection);
    if (this.#state === 'closing' && this.#idle()) this.#drained?.();
  }

  /** Lets queued and in-flight requests finish, then closes every connection; refuses new requests. */
  close(): Promise<void> {
    if (this.#closing !== undefined) return this.#closing;
    if (this.#state === 'destroyed') return Promise.resolve();
    this.#state = 'closing';
    const drained = this.#idle()
      ? Promise.resolve()
      : new Promise<void>((resolve) => {
          this.#drained = resolve;
        });
    this.#closing = drained.then(() => this.#closeClients());
    return this.#closing;
  }

  /** Fails every queued and in-flight request now and closes every connection. */
  async destroy(): Promise<void> {
    if (this.#state === 'destroyed') return;
    this.#state = 'destroyed';
    this.#drained?.();
    const error = poolClosed(true);
    for (let next = this.#waiting.shift(); next !== undefined; next = this.#waiting.shift())
      next[1].fail(error);
    await Promise.all(this.#all.map((c) => c.client.destroy(error).catch(() => {})));
  }

  #idle(): boolean {
    return this.#waiting.length === 0 && this.#all.every((c) => c.inFlight === 0);
  }

  async #closeClients(): Promise<void> {
    if (this.#state === 'destroyed') return;
    await Promise.all(this.#all.map((c) => c.client.close().catch(() => {})));
  }

  #open(): PoolConnection | undefined {
    if (this.#all.length >= this.#options.connections) return undefined;
    const client = new Client(this.#origin, {
      pipelining: this.#options.pipelining,
      headersTimeout: this.#options.headersTimeout,
      bodyTimeout: this.#options.bodyTimeout,
    });
    // A client reports its connection's failures to each request's handler. It emits 'error' only when a
    // handler throws from onError (ours do not): never let that end the node.
    (client as unknown as EventEmitter).on('error', () => {});
    const connection = new PoolConnection(this, client);
    this.#all.push(connection);
    return connection;
  }

  /** Hands `request` to `connection`'s client; its slot (`inFlight`) is already counted. */
  #start(connection: PoolConnection, request: Dispatcher.DispatchOptions, handler: PooledHandler): void {
    handler.connection = connection;
    try {
      connection.client.dispatch(request, handler);
    } catch (err) {
      // undici refused the request itself (invalid options): it never took it, so it is released here.
      handler.connection = undefined;
      connection.release();
      handler.fail(err);
    }
  }
}
