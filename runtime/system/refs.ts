// The kinds of actor ref: one bound to a live local cell, one for another node's actor, one for a virtual actor.

import type { ActorCell } from '../actor/cell.js';
import type { AnyProtocol } from '../actor/protocol.js';
import type { ActorRef, AskOptions, SendOptions, TellOptions } from '../actor/ref.js';
import type { Address } from './address.js';
import type { Router } from './router.js';

/** What every ref shares: its address and the router its messages take. */
abstract class BaseRef implements ActorRef<AnyProtocol> {
  readonly address: string;
  protected readonly router: Router;

  constructor(address: string, router: Router) {
    this.address = address;
    this.router = router;
  }

  abstract tell(message: { type: string }, options?: TellOptions): void;
  abstract send(message: { type: string }, options?: SendOptions): Promise<void>;
  abstract ask(message: { type: string }, options?: AskOptions): Promise<never>;

  toJSON(): string {
    return this.address;
  }

  toString(): string {
    return `ActorRef(${this.address})`;
  }
}

/**
 * @internal A ref to a live actor on this node: messages go straight into its cell, never encoded. It keeps
 * only the address text (one per actor: an idle actor must cost little memory).
 */
export class LocalRef extends BaseRef {
  readonly #cell: ActorCell;

  constructor(address: string, router: Router, cell: ActorCell) {
    super(address, router);
    this.#cell = cell;
  }

  tell(message: { type: string }, options?: TellOptions): void {
    this.router.tell(this.address, this.#cell, message, options);
  }

  send(message: { type: string }, options?: SendOptions): Promise<void> {
    return this.router.send(this.address, this.#cell, message, options);
  }

  ask(message: { type: string }, options?: AskOptions): Promise<never> {
    return this.router.ask(this.address, this.#cell, message, options) as Promise<never>;
  }
}

/**
 * @internal A ref by address: an actor on another node, or a path on this node with no live actor (yet):
 * the router looks it up at every send.
 */
export class AddressRef extends BaseRef {
  /** @internal The address, parsed once. */
  readonly target: Address;

  constructor(target: Address, router: Router) {
    super(target.text, router);
    this.target = target;
  }

  tell(message: { type: string }, options?: TellOptions): void {
    this.router.tell(this.target, undefined, message, options);
  }

  send(message: { type: string }, options?: SendOptions): Promise<void> {
    return this.router.send(this.target, undefined, message, options);
  }

  ask(message: { type: string }, options?: AskOptions): Promise<never> {
    return this.router.ask(this.target, undefined, message, options) as Promise<never>;
  }
}

/** @internal A ref to a virtual actor (`$v/<type>/<id>`): wherever it is, or will be, active. */
export class VirtualRef extends AddressRef {
  get type(): string {
    return this.target.virtual!.type;
  }

  get id(): string {
    return this.target.virtual!.id;
  }
}
