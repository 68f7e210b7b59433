// The whole NATS subject scheme of troupe: every subject, `$`-segment and JetStream name a node uses is built
// and parsed here, so reading this file once tells what travels where.
//
// Subjects (all under `troupe.<namespace>.`):
//   <node>.<path>                        an actor; a node holds one wildcard subscription `<node>.>`
//   <node>.$r                            replies to this node's asks (one subject: the frame names the ask)
//   <node>.$r.<correlation id>           the reply subject of an ask: an empty 503 frame there is its no-responders
//   <node>.$nr.<publish id>.<target>     status of a tell (id 0) or a tell batch that found no subscriber
//   <node>.$nv.<id>.<count>.<$v.type.id> status of tells to a virtual actor, kept for failover retries
//   <node>.$fw.<forward id>              status of a frame a shard owner forwarded to an actor's host
//   <node>.$va.<type>.<id>               frames forwarded by a shard owner to the actor's host (directory)
//   <node>.$ping                         the node-id uniqueness probe
//   <node>.$node                         node-wide system commands (runtime's NODE_SEGMENT: ps, spawn)
//   $members                             membership heartbeats (JSON)
//   $shards                              shard release notices (JSON)
//   $v.<type>.<shard>.<id>               a virtual actor, routed to its shard's owner
//   $d.<type>.<shard>.<id>               durable mail, captured by the JetStream stream TROUPE_<namespace>
// KV buckets: `troupe-dir-<namespace>` (activation directory), `troupe-state` (natsKvPersistence default).

import { REPLY_SEGMENT, shardOf, VIRTUAL_NODE } from '../../runtime/internal.js';

/** The `$`-segments of the scheme, each owned by one component. */
export const Segment = {
  /** Replies to asks (runtime's reply address `node/$r`) and, under it, the statuses of asks. */
  Reply: REPLY_SEGMENT,
  /** Virtual actors (runtime's address `$v/<type>/<id>`), by shard. */
  Virtual: VIRTUAL_NODE,
  /** Status of plain tells and tell batches. */
  NoResponders: '$nr',
  /** Status of tells to virtual actors (failover retry). */
  VirtualTell: '$nv',
  /** Status of directory forwards. */
  Forward: '$fw',
  /** Frames a directory forwarded to the actor's host. */
  Forwarded: '$va',
  /** Durable mail (JetStream). */
  Durable: '$d',
  /** Membership heartbeats. */
  Members: '$members',
  /** Shard release notices. */
  Shards: '$shards',
  /** Node-id probe. */
  Ping: '$ping',
} as const;

/** Pseudo-addresses under which cluster failures are dead-lettered: `<node>/$shard/<key>`, `<node>/$directory/<key>`. */
export const FailureSegment = { Shard: '$shard', Directory: '$directory' } as const;

/** Default KV bucket of `natsKvPersistence`. */
export const DEFAULT_STATE_BUCKET = 'troupe-state';

const SUBJECT_CACHE_LIMIT = 10_000;

/** How a node's reply address (`node/$r`) ends. */
const REPLY_SUFFIX = `/${REPLY_SEGMENT}`;

/** `troupe.<namespace>.`: the prefix of every subject of a namespace. */
export function namespacePrefix(namespace: string): string {
  return `troupe.${namespace}.`;
}

/** The heartbeat subject of a namespace. */
export function membersSubject(namespace: string): string {
  return `${namespacePrefix(namespace)}${Segment.Members}`;
}

/** JetStream names allow `[A-Za-z0-9_-]`; a namespace may hold more. */
function streamSafe(name: string): string {
  return name.replace(/[^A-Za-z0-9_-]/g, '_');
}

/** The KV bucket of a namespace's activation directory. */
export function directoryBucket(namespace: string): string {
  return `troupe-dir-${streamSafe(namespace)}`;
}

/** The stream nats.js keeps a KV bucket in. */
export function kvStream(bucket: string): string {
  return `KV_${bucket}`;
}

/** The JetStream stream of a namespace's durable mail. */
export function durableStream(namespace: string): string {
  return `TROUPE_${streamSafe(namespace)}`;
}

/** A durable consumer's name, one per claim, so a lagging previous owner never shares the new owner's. */
export function durableConsumer(type: string, shard: number, node: string, claim: number): string {
  return streamSafe(`${type}_${shard}_${node}_${claim}`);
}

/** The shard of a virtual actor as the subject tokens `<type>.<shard>` (also the key shards are known by). */
export function shardKey(type: string, id: string, shards: number): string {
  return `${type}.${shardOf(`${type}/${id}`, shards)}`;
}

/** Subject tokens of an address: `node/a/b` → `node.a.b` (names hold no dots, so this is reversible). */
export function tokensOf(address: string): string {
  return address.replaceAll('/', '.');
}

/** Address of subject tokens: `node.a.b` → `node/a/b`. */
export function addressOfTokens(tokens: string): string {
  return tokens.replaceAll('.', '/');
}

/** The `<publish id>` and target address of a `$nr` status (`rest` follows `$nr.`). */
export function parseNoResponders(rest: string): { publishId: number; address: string } {
  const dot = rest.indexOf('.');
  return { publishId: Number(rest.slice(0, dot)), address: addressOfTokens(rest.slice(dot + 1)) };
}

/** The `<publish id>` and target address of a `$nv` status (`rest` follows `$nv.`). */
export function parseVirtualTell(rest: string): { publishId: number; address: string } {
  const dot = rest.indexOf('.');
  const dot2 = rest.indexOf('.', dot + 1);
  return { publishId: Number(rest.slice(0, dot)), address: addressOfTokens(rest.slice(dot2 + 1)) };
}

/** Subjects of one namespace, namespace-wide ones and those that name a virtual actor or a node. */
export class SubjectScheme {
  readonly namespace: string;
  /** `troupe.<namespace>.` */
  readonly prefix: string;
  readonly shardNotices: string;
  /** Every durable subject, as the stream captures them. */
  readonly durableAll: string;
  readonly #durable: string;

  constructor(namespace: string) {
    this.namespace = namespace;
    this.prefix = namespacePrefix(namespace);
    this.shardNotices = `${this.prefix}${Segment.Shards}`;
    this.#durable = `${this.prefix}${Segment.Durable}.`;
    this.durableAll = `${this.#durable}>`;
  }

  /** `$v.<type>.<shard>.<id>`: where mail to a virtual actor goes. */
  virtual(shardKey: string, id: string): string {
    return `${this.prefix}${Segment.Virtual}.${shardKey}.${id}`;
  }

  /** What a shard's owner subscribes to; the actor id starts at `virtualIdAt(shardKey)` in each subject. */
  shardWildcard(shardKey: string): string {
    return `${this.prefix}${Segment.Virtual}.${shardKey}.*`;
  }

  virtualIdAt(shardKey: string): number {
    return this.prefix.length + Segment.Virtual.length + shardKey.length + 2;
  }

  /** `$d.<type>.<shard>.<id>`: durable mail to a virtual actor. */
  durable(type: string, shard: number, id: string): string {
    return `${this.#durable}${type}.${shard}.${id}`;
  }

  /** The consumer filter of one durable shard. */
  durableShard(type: string, shard: number): string {
    return `${this.#durable}${type}.${shard}.*`;
  }

  /** The virtual address a durable subject of type `type` names. */
  durableTarget(type: string, subject: string): string {
    return `${VIRTUAL_NODE}/${type}/${subject.slice(subject.lastIndexOf('.') + 1)}`;
  }

  /** `<host>.$va.<type>.<id>`: a frame forwarded by the directory to the actor's host. */
  forwarded(host: string, type: string, id: string): string {
    return `${this.prefix}${host}.${Segment.Forwarded}.${type}.${id}`;
  }

  /** `<owner>.$fw.<forward id>`: the reply subject of a forward, for its no-responders status. */
  forwardReply(owner: string, forwardId: number): string {
    return `${this.prefix}${owner}.${Segment.Forward}.${forwardId}`;
  }

  /** The address a subject names (or the subject itself when it is not in this namespace). */
  addressOf(subject: string): string {
    return subject.startsWith(this.prefix) ? addressOfTokens(subject.slice(this.prefix.length)) : subject;
  }

  /** The node a message came from, read from its reply subject (`<node>.$r…`, `<node>.$nv…`). */
  originOf(reply: string | undefined): string | undefined {
    if (!reply?.startsWith(this.prefix)) return undefined;
    const end = reply.indexOf('.', this.prefix.length);
    return end < 0 ? undefined : reply.slice(this.prefix.length, end);
  }

  /** The virtual address a `$v.<type>.<shard>.<id>` subject names, or undefined for any other subject. */
  virtualTarget(subject: string): string | undefined {
    if (!subject.startsWith(`${Segment.Virtual}.`, this.prefix.length)) return undefined;
    const tail = subject.slice(this.prefix.length + 3);
    const dot = tail.indexOf('.');
    return `${VIRTUAL_NODE}/${tail.slice(0, dot)}/${tail.slice(tail.indexOf('.', dot + 1) + 1)}`;
  }

  node(nodeId: string): NodeSubjects {
    return new NodeSubjects(this.prefix, nodeId);
  }
}

/**
 * The subjects of one node: its wildcard, its status reply subjects, and the subjects of the addresses it
 * sends to (cached: the same few targets are hit again and again).
 */
export class NodeSubjects {
  /** `troupe.<namespace>.<node>.` */
  readonly prefix: string;
  readonly wildcard: string;
  readonly ping: string;
  /** This node's reply address (`node/$r`): replies to its asks come to `<node>.$r`. */
  readonly replyTo: string;
  readonly #namespacePrefix: string;
  readonly #subjects = new Map<string, string>();
  readonly #undeliverable = new Map<string, string>();
  readonly #forwardedAt: number;

  constructor(namespacePrefix: string, nodeId: string) {
    this.#namespacePrefix = namespacePrefix;
    this.prefix = `${namespacePrefix}${nodeId}.`;
    this.wildcard = `${this.prefix}>`;
    this.ping = `${this.prefix}${Segment.Ping}`;
    this.replyTo = `${nodeId}${REPLY_SUFFIX}`;
    this.#forwardedAt = this.prefix.length + Segment.Forwarded.length + 1;
  }

  /** Subject of an address: `node/a/b` → `troupe.<ns>.node.a.b`. */
  subjectOf(address: string): string {
    let subject = this.#subjects.get(address);
    if (subject === undefined) {
      if (this.#subjects.size >= SUBJECT_CACHE_LIMIT) this.#subjects.clear();
      subject = this.#namespacePrefix + tokensOf(address);
      this.#subjects.set(address, subject);
    }
    return subject;
  }

  /**
   * `<asker>.$r.<correlation id>`: the reply subject of an ask whose reply address is `replyTo`, so the
   * server's no-responders status names the ask to the node that made it (a forwarded ask's too). Built, not
   * cached: there is one per ask. A reply address of another form is taken as the subject's address.
   */
  askStatus(replyTo: string, correlationId: string | undefined): string {
    if (correlationId === undefined || !replyTo.endsWith(REPLY_SUFFIX))
      return this.#namespacePrefix + tokensOf(replyTo);
    return `${this.subjectOf(replyTo)}.${correlationId}`;
  }

  /**
   * `<node>.$nr.0.<target>`: the reply subject of a single tell, so the server's no-responders status names
   * the address that had no subscriber and the tell becomes a dead letter here instead of vanishing.
   */
  noResponders(address: string): string {
    let subject = this.#undeliverable.get(address);
    if (subject === undefined) {
      if (this.#undeliverable.size >= SUBJECT_CACHE_LIMIT) this.#undeliverable.clear();
      subject = `${this.prefix}${Segment.NoResponders}.0.${tokensOf(address)}`;
      this.#undeliverable.set(address, subject);
    }
    return subject;
  }

  /** `<node>.$nr.<publish id>.<target>`: the reply subject of a tell batch kept under `publishId`. */
  noRespondersBatch(publishId: number, address: string): string {
    return `${this.prefix}${Segment.NoResponders}.${publishId}.${tokensOf(address)}`;
  }

  /** `<node>.$nv.<publish id>.<count>.<tokens>`: the reply subject of tells to a virtual actor. */
  virtualTell(publishId: number, count: number, tokens: string): string {
    return `${this.prefix}${Segment.VirtualTell}.${publishId}.${count}.${tokens}`;
  }

  /** The address a subject of this namespace names. */
  addressOf(subject: string): string {
    return subject.startsWith(this.#namespacePrefix)
      ? addressOfTokens(subject.slice(this.#namespacePrefix.length))
      : subject;
  }

  /** True for a subject of this node. */
  owns(subject: string): boolean {
    return subject.startsWith(this.prefix);
  }

  /**
   * For a subject of this node: the virtual address a `$va.<type>.<id>` subject names, `null` for any other
   * subject of the node (which must not carry virtual targets).
   */
  forwardedTarget(subject: string): string | null {
    if (!subject.startsWith(`${Segment.Forwarded}.`, this.prefix.length)) return null;
    return `${VIRTUAL_NODE}/${subject.slice(this.#forwardedAt).replace('.', '/')}`;
  }
}

/** Subject tokens of a virtual actor, `$v.<type>.<id>`, for the tail of a `$nv` reply subject. */
export function virtualTokens(type: string, id: string): string {
  return `${Segment.Virtual}.${type}.${id}`;
}
