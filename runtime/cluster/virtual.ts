// Virtual actors: addressed by type and id from anywhere, activated on first message, passivated when idle.

import type { ActorCell } from '../actor/cell.js';
import type { ActorDefinition } from '../actor/definition.js';
import type { Protocol } from '../actor/protocol.js';
import type { Clock, TimerHandle } from '../core/clock.js';
import { assertValidName, type Envelope } from '../core/envelope.js';
import { ErrorCode, InvalidOptionsError, TroupeError } from '../core/errors.js';
import { assertOptionsObject, numberOption } from '../core/options.js';
import { hashPlacement, type PlacementStrategy } from './placement.js';

/** The node segment of every virtual address: `$v/<type>/<id>` names an actor, not a place. */
export const VIRTUAL_NODE = '$v';
const PREFIX = `${VIRTUAL_NODE}/`;

/** Options of `system.register(type, definition, options)`. */
export interface VirtualActorOptions {
  /**
   * Which node hosts each id when the system is clustered. A deterministic strategy (hash, role) places by
   * shard; any other (least-loaded, prefer-local) is asked once per actor and its choice kept in an
   * activation directory until that node leaves.
   * @defaultValue hash placement (rendezvous hashing over the live members)
   */
  placement?: PlacementStrategy;
  /**
   * An actor that handled no message for this long is passivated (stopped; reactivated by its next
   * message). 0 keeps actors active until the node's cap pushes them out.
   * @defaultValue 60000
   */
  passivateAfterMs?: number;
  /**
   * Keep this type's mail in a durable store (JetStream on NATS): at-least-once, in order per actor,
   * surviving the crash of the node that hosted the actor. Without a durable transport it has no effect.
   * @defaultValue false
   */
  durable?: boolean;
}

/** {@link VirtualActorOptions} after defaults. */
export interface ResolvedVirtualActorOptions {
  placement: PlacementStrategy;
  passivateAfterMs: number;
  durable: boolean;
}

export const DEFAULT_PASSIVATE_AFTER_MS = 60_000;

/** Validates virtual actor options; throws {@link InvalidOptionsError} naming the field. */
export function resolveVirtualActorOptions(options: VirtualActorOptions = {}): ResolvedVirtualActorOptions {
  assertOptionsObject(options, 'options');
  const placement = options.placement ?? hashPlacement();
  if (!placement.deterministic && options.durable === true) {
    // A durable actor's mail is consumed, and acknowledged after handling, by its shard's owner.
    throw new InvalidOptionsError(
      'placement',
      `${placement.name} is not deterministic; durable virtual actors need hash or role placement`,
    );
  }
  const passivateAfterMs = numberOption(
    options.passivateAfterMs,
    'passivateAfterMs',
    DEFAULT_PASSIVATE_AFTER_MS,
  );
  return { placement, passivateAfterMs, durable: options.durable === true };
}

/**
 * A virtual actor type as one value, shared by the nodes that host it and the processes that send to it: its
 * name, its definition, and how it is kept (placement, passivation, durability). A sender that names the
 * type through it declares its durability, so `send()` stores the message (creating the durable store if
 * need be) even while no host runs, instead of learning it from the hosts' heartbeats.
 *
 * @example
 * export const ledger = defineVirtual('ledger', ledgerActor, { durable: true });
 * system.register(ledger);                         // on hosting nodes
 * await system.virtual(ledger, 'acct-1').send({ type: 'deposit', amount: 5 }, { messageId: 'd-1' });
 */
export interface VirtualType<P extends Protocol = Protocol, S = unknown> {
  readonly type: string;
  readonly definition: ActorDefinition<P, S>;
  readonly options: ResolvedVirtualActorOptions;
}

/** Defines a virtual actor type; see {@link VirtualType}. Throws `INVALID_NAME` / `INVALID_OPTIONS` at once. */
export function defineVirtual<P extends Protocol, S>(
  type: string,
  definition: ActorDefinition<P, S>,
  options?: VirtualActorOptions,
): VirtualType<P, S> {
  assertValidName(type, 'actor type');
  if (typeof definition !== 'object' || definition === null || typeof definition.handlers !== 'object') {
    throw new InvalidOptionsError('definition', 'expected an actor definition from defineActor()');
  }
  return Object.freeze({ type, definition, options: resolveVirtualActorOptions(options) });
}

/** A virtual type of any protocol and state. */
// biome-ignore lint/suspicious/noExplicitAny: types of any protocol and state must be assignable here (variance)
export type AnyVirtualType = VirtualType<any, any>;

/** True for a value made by {@link defineVirtual}. */
export function isVirtualType(value: unknown): value is AnyVirtualType {
  return (
    typeof value === 'object' &&
    value !== null &&
    typeof (value as VirtualType).type === 'string' &&
    typeof (value as VirtualType).definition === 'object' &&
    typeof (value as VirtualType).options === 'object'
  );
}

/** The address of virtual actor `type`/`id`. */
export function virtualAddress(type: string, id: string): string {
  assertValidName(type, 'actor type');
  assertValidName(id, 'actor id');
  return `${PREFIX}${type}/${id}`;
}

/** `{ type, id }` of a virtual address, or undefined for any other address. */
export function parseVirtualAddress(address: string): { type: string; id: string } | undefined {
  if (!address.startsWith(PREFIX)) return undefined;
  const slash = address.indexOf('/', PREFIX.length);
  if (slash < 0) return undefined;
  return { type: address.slice(PREFIX.length, slash), id: address.slice(slash + 1) };
}

interface Registration {
  definition: ActorDefinition<Protocol, unknown>;
  options: ResolvedVirtualActorOptions;
}

interface Active {
  cell: ActorCell;
  lastUsed: number;
}

/** @internal What the host needs from the system. */
export interface VirtualHostDeps {
  clock: Clock;
  /** Creates and starts a cell at `address` (no parent); `envelope` is its first message (its trace goes on). */
  activate(definition: ActorDefinition<Protocol, unknown>, address: string, envelope?: Envelope): ActorCell;
  undeliverable(envelope: Envelope, reason: string, error?: unknown): void;
  /** Sends mail held for an actor whose shard moved to wherever it lives now. */
  reroute(envelope: Envelope): void;
}

/**
 * @internal The registry of virtual actor types on one node and the actors currently active. Keeps the
 * active set in least-recently-used order (a Map re-inserted on use) so the cap passivates the coldest.
 */
export class VirtualHost {
  readonly #deps: VirtualHostDeps;
  readonly #types = new Map<string, Registration>();
  readonly #active = new Map<string, Active>();
  readonly #retiring = new Map<string, { cell: ActorCell; held: Envelope[]; moved: boolean }>();
  readonly #maxActive: number;
  #sweep: TimerHandle | undefined;
  #sweepEvery = 0;
  #closed = false;
  /** Actors passivated so far (idle timeout or cap). */
  passivated = 0;

  constructor(deps: VirtualHostDeps, maxActive: number) {
    this.#deps = deps;
    this.#maxActive = maxActive;
  }

  get activeCount(): number {
    return this.#active.size;
  }

  types(): string[] {
    return [...this.#types.keys()];
  }

  registration(type: string): Registration | undefined {
    return this.#types.get(type);
  }

  register(
    type: string,
    definition: ActorDefinition<Protocol, unknown>,
    options?: VirtualActorOptions,
  ): void {
    assertValidName(type, 'actor type');
    if (this.#types.has(type))
      throw new TroupeError(ErrorCode.NameTaken, `actor type ${type} is already registered`);
    const resolved = resolveVirtualActorOptions(options);
    this.#types.set(type, { definition, options: resolved });
    if (resolved.passivateAfterMs > 0) this.#scheduleSweep(resolved.passivateAfterMs);
  }

  /** Delivers to the actor at a virtual address, activating it first if needed. */
  deliver(envelope: Envelope): void {
    const address = envelope.target;
    // While an instance is stopping (passivation saving its state, a crash, a self-stop), hold its mail:
    // a second instance now would load stale state, and the dying one would dead-letter the mail.
    const retiring = this.#retiring.get(address);
    if (retiring) {
      retiring.held.push(envelope);
      return;
    }
    let entry = this.#active.get(address);
    if (entry && entry.cell.status === 'stopping') {
      this.#active.delete(address);
      this.#retiring.set(address, { cell: entry.cell, held: [envelope], moved: false });
      return;
    }
    if (entry && entry.cell.status === 'stopped') {
      this.#active.delete(address);
      entry = undefined;
    }
    if (!entry) {
      const parsed = parseVirtualAddress(address);
      const registration = parsed && this.#types.get(parsed.type);
      if (!registration) {
        this.#deps.undeliverable(
          envelope,
          ErrorCode.ActorNotFound,
          new TroupeError(
            ErrorCode.ActorNotFound,
            `no actor type ${parsed?.type ?? address} is registered here`,
          ),
        );
        return;
      }
      this.#makeRoom();
      entry = { cell: this.#deps.activate(registration.definition, address, envelope), lastUsed: 0 };
    } else {
      // Move to the back: the Map's first entries are the least recently used.
      this.#active.delete(address);
    }
    entry.lastUsed = this.#deps.clock.now();
    this.#active.set(address, entry);
    entry.cell.enqueue(envelope);
  }

  /**
   * Forgets a cell that stopped (passivated, crashed, or stopped by request). `unhandled` is durable mail
   * it had not handled: it goes first, then mail held while it stopped, to a fresh instance here, or, when
   * the actor's shard moved or this node is closing, back to the transport (a durable store offers it again).
   */
  stopped(cell: ActorCell, unhandled: Envelope[] = []): void {
    if (this.#active.get(cell.address)?.cell === cell) this.#active.delete(cell.address);
    const retiring = this.#retiring.get(cell.address);
    const mine = retiring?.cell === cell;
    if (mine) this.#retiring.delete(cell.address);
    else if (unhandled.length === 0) return;
    const mail = mine ? [...unhandled, ...retiring.held] : unhandled;
    const moved = mine && retiring.moved;
    for (const envelope of mail) {
      if (moved || (this.#closed && envelope.delivery !== undefined)) this.#deps.reroute(envelope);
      else this.deliver(envelope);
    }
  }

  /** Stops an active instance, holding its mail until it has stopped. */
  #retire(address: string, entry: Active, moved: boolean): Promise<void> {
    this.#active.delete(address);
    this.#retiring.set(address, { cell: entry.cell, held: [], moved });
    this.passivated++;
    return entry.cell.requestStop();
  }

  /** Passivates every active actor whose address matches; resolves once they have stopped. */
  async passivate(match: (address: string) => boolean): Promise<number> {
    const stopping: Promise<void>[] = [];
    for (const [address, entry] of this.#active) {
      if (!match(address)) continue;
      stopping.push(this.#retire(address, entry, true));
    }
    await Promise.all(stopping);
    return stopping.length;
  }

  close(): void {
    this.#closed = true;
    if (this.#sweep !== undefined) this.#deps.clock.clearTimeout(this.#sweep);
    this.#sweep = undefined;
  }

  /** Passivates least recently used idle actors until one more fits under the cap. */
  #makeRoom(): void {
    for (const [address, entry] of this.#active) {
      if (this.#active.size < this.#maxActive) return;
      if (!entry.cell.idle) continue;
      void this.#retire(address, entry, false);
    }
  }

  #scheduleSweep(passivateAfterMs: number): void {
    const every = Math.max(1, Math.floor(passivateAfterMs / 2));
    if (this.#sweep !== undefined && this.#sweepEvery <= every) return;
    if (this.#sweep !== undefined) this.#deps.clock.clearTimeout(this.#sweep);
    this.#sweepEvery = every;
    const run = (): void => {
      const now = this.#deps.clock.now();
      for (const [address, entry] of this.#active) {
        const type = parseVirtualAddress(address)?.type;
        const after = (type && this.#types.get(type)?.options.passivateAfterMs) || 0;
        if (after > 0 && now - entry.lastUsed >= after && entry.cell.idle)
          void this.#retire(address, entry, false);
      }
      this.#sweep = this.#deps.clock.setTimeout(run, this.#sweepEvery);
    };
    this.#sweep = this.#deps.clock.setTimeout(run, every);
  }
}
