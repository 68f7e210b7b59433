// The in-process transport: several systems in one process exchange frames through a hub, as if over a wire.

import { ErrorCode, type NodeInfo, type Transport, TroupeError } from '../runtime/index.js';
import {
  type Envelope,
  EnvelopeKind,
  errorReply,
  type HostedType,
  nodeInfo,
  nodeOf,
  parseVirtualAddress,
  shardOf,
  type TransportSink,
} from '../runtime/internal.js';
import { type BatchCodec, type CodecOptions, createCodec, decodeFrames, undecodable } from './codec.js';
import { TransportError, TransportErrorCode } from './errors.js';

/** Connects local transports: one hub is one "network". */
export interface LocalHub {
  /** Node ids bound to this hub. */
  nodes(): string[];
  /**
   * Delivers raw bytes to the node owning `address`, as if they had arrived from the wire (for tests of
   * malformed input).
   */
  injectFrame(address: string, frame: Uint8Array): void;
}

interface HubNode {
  codec: BatchCodec;
  sink: TransportSink;
  types: HostedType[];
}

/** Shards per virtual type on a hub, as on NATS: placement decides per shard, not per id. */
const HUB_SHARDS = 64;

class Hub implements LocalHub {
  readonly members = new Map<string, HubNode>();
  /** Where non-deterministically placed virtual actors live: the hub is their activation directory. */
  readonly #placed = new Map<string, string>();

  nodes(): string[] {
    return [...this.members.keys()];
  }

  injectFrame(address: string, frame: Uint8Array): void {
    queueMicrotask(() => this.receive(address, frame));
  }

  /**
   * The node hosting a virtual address: placement over the members that registered its type, by shard for a
   * deterministic strategy, else chosen once per actor and remembered while that node stays on the hub.
   */
  ownerOf(type: string, id: string, origin: string | undefined): string | undefined {
    const key = `${type}/${id}`;
    const known = this.#placed.get(key);
    // A remembered node still hosting the type: no need to look at every member (or its load) again.
    if (known !== undefined && this.members.get(known)?.types.some((t) => t.type === type)) return known;
    const hosts: NodeInfo[] = [];
    let placement: HostedType['placement'] | undefined;
    for (const [nodeId, node] of this.members) {
      const hosted = node.types.find((t) => t.type === type);
      if (!hosted) continue;
      placement ??= hosted.placement;
      hosts.push(
        nodeInfo(nodeId, { types: [type], ...(!placement.deterministic && { load: node.sink.load() }) }),
      );
    }
    if (!placement) return undefined;
    if (placement.deterministic) {
      const shard = shardOf(key, HUB_SHARDS);
      return placement.place(`${type}#${shard}`, { self: '', members: hosts });
    }
    const chosen = placement.place(key, { self: origin ?? '', members: hosts, origin });
    if (chosen !== undefined) this.#placed.set(key, chosen);
    return chosen;
  }

  receive(address: string, frame: Uint8Array, origin?: string): boolean {
    const virtual = parseVirtualAddress(address);
    const owner = virtual ? this.ownerOf(virtual.type, virtual.id, origin) : nodeOf(address);
    const node = owner === undefined ? undefined : this.members.get(owner);
    if (!node) return false;
    // Batch frames only come from NATS senders, but the hub reads them the same way, as the conformance
    // suite expects.
    for (const decoded of decodeFrames(node.codec, frame)) {
      if (decoded instanceof TroupeError) node.sink.reject(undecodable(address, decoded));
      else node.sink.deliver(decoded);
    }
    return true;
  }
}

/** Creates a hub for local transports that should reach each other. */
export function createLocalHub(): LocalHub {
  return new Hub();
}

/** Options of {@link localTransport}. */
export interface LocalTransportOptions extends CodecOptions {
  /**
   * The hub to join; transports on the same hub reach each other.
   * @defaultValue a new private hub
   */
  hub?: LocalHub;
}

/**
 * An in-process transport. Frames are really encoded and decoded, so size limits, copying and malformed
 * input behave as they do over NATS.
 *
 * @example
 * const hub = createLocalHub();
 * const a = await createSystem({ nodeId: 'a', transport: localTransport({ hub }) });
 * const b = await createSystem({ nodeId: 'b', transport: localTransport({ hub }) });
 */
export function localTransport(options: LocalTransportOptions = {}): Transport {
  const hub = (options.hub ?? new Hub()) as Hub;
  if (!(hub instanceof Hub))
    throw new TransportError(ErrorCode.InvalidOptions, 'hub must come from createLocalHub()');
  const codec = createCodec(options);
  let nodeId: string | undefined;
  let sink: TransportSink | undefined;
  let state: 'new' | 'open' | 'closed' = 'new';
  let inFlight = 0;
  let idle: (() => void) | undefined;
  let resolveClosed!: (err: Error | undefined) => void;
  const whenClosed = new Promise<Error | undefined>((resolve) => {
    resolveClosed = resolve;
  });

  const shut = (): void => {
    if (state === 'closed') return;
    state = 'closed';
    if (nodeId !== undefined && hub.members.get(nodeId)?.sink === sink) hub.members.delete(nodeId);
    resolveClosed(undefined);
  };

  const transport: Transport = {
    kind: 'local',
    maxFrameBytes: codec.maxFrameBytes,
    async bind(id: string, s: TransportSink): Promise<void> {
      if (state !== 'new')
        throw new TransportError(TransportErrorCode.AlreadyBound, 'local transport is already bound');
      if (hub.members.has(id))
        throw new TransportError(ErrorCode.NameInUse, `node id ${id} is in use on this hub`);
      nodeId = id;
      sink = s;
      hub.members.set(id, { codec, sink: s, types: [] });
      state = 'open';
    },
    members(): NodeInfo[] {
      return [...hub.members.entries()].map(([id, node]) =>
        nodeInfo(id, {
          types: node.types.map((t) => t.type),
          durable: node.types.filter((t) => t.durable).map((t) => t.type),
          load: node.sink.load(),
        }),
      );
    },
    async nodes(): Promise<string[]> {
      return hub.nodes();
    },
    hostTypes(types: HostedType[]): void {
      const node = nodeId === undefined ? undefined : hub.members.get(nodeId);
      if (node) node.types = types;
    },
    send(envelope: Envelope): void {
      if (state !== 'open' || !sink)
        throw new TransportError(TransportErrorCode.Closed, 'local transport is closed');
      const frame = codec.encode(envelope);
      const from = sink;
      inFlight++;
      // A microtask per frame keeps FIFO order across all senders, like one connection to a broker.
      queueMicrotask(() => {
        if (!hub.receive(envelope.target, frame, nodeId)) noResponders(from, envelope);
        if (--inFlight === 0) idle?.();
      });
    },
    async close(): Promise<void> {
      shut();
    },
    async drain(): Promise<void> {
      if (state === 'closed') return;
      if (inFlight > 0) {
        await new Promise<void>((resolve) => {
          idle = resolve;
        });
      }
      shut();
    },
    closed: () => whenClosed,
    [Symbol.asyncDispose]: () => transport.drain(),
  };
  return transport;
}

/** What NATS does for a frame nobody subscribes to: an ask fails fast, a tell becomes a dead letter. */
function noResponders(sink: TransportSink, envelope: Envelope): void {
  const error = { code: ErrorCode.NoResponders, message: `no node answers for ${envelope.target}` };
  if (envelope.kind === EnvelopeKind.Reply) return;
  if (envelope.replyTo !== undefined && envelope.correlationId !== undefined) {
    sink.deliver(errorReply(envelope.replyTo, envelope.correlationId, error));
  } else {
    sink.reject({ address: envelope.target, reason: ErrorCode.NoResponders, error });
  }
}
