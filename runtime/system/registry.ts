// The actors alive on one node: by path, the top-level ones, and how a new one is spawned into them.

import { ActorCell } from '../actor/cell.js';
import type { ActorDefinition, SpawnOptions } from '../actor/definition.js';
import type { Protocol } from '../actor/protocol.js';
import type { AnyActorRef } from '../actor/ref.js';
import type { CellHost } from '../actor/state.js';
import { assertValidName, REPLY_SEGMENT } from '../core/envelope.js';
import { ErrorCode, TroupeError } from '../core/errors.js';
import { assertActorLimits } from '../ports/supervision.js';
import { LocalRef } from './refs.js';
import type { Router } from './router.js';

/** @internal Every live cell of a node, by path, and its top-level actors (the roots shutdown stops). */
export class Registry {
  readonly cells = new Map<string, ActorCell>();
  readonly roots = new Map<string, ActorCell>();
  readonly #nodeId: string;
  #rootSeq = 0;

  constructor(nodeId: string) {
    this.#nodeId = nodeId;
  }

  /** Creates and starts a cell under `parent` (or at the top); throws `NAME_TAKEN`, `INVALID_OPTIONS`, ... */
  spawn(
    host: CellHost,
    router: Router,
    parent: ActorCell | undefined,
    definition: ActorDefinition<Protocol, unknown>,
    options: SpawnOptions | undefined,
  ): AnyActorRef {
    if (typeof definition !== 'object' || definition === null || typeof definition.handlers !== 'object') {
      throw new TroupeError(
        ErrorCode.InvalidOptions,
        'spawn: expected an actor definition from defineActor()',
      );
    }
    // A supervisor spawns its children again while it restarts, and may do so while paused.
    if (parent && (parent.status === 'stopping' || parent.status === 'stopped')) {
      throw new TroupeError(
        ErrorCode.ActorStopped,
        `cannot spawn under ${parent.address}: it is ${parent.status}`,
      );
    }
    let name: string;
    if (options?.name !== undefined) {
      assertValidName(options.name);
      name = options.name;
    } else {
      name = parent ? parent.nextChildName() : `$${this.#rootSeq++}`;
    }
    const path = parent ? `${parent.path}/${name}` : name;
    if (this.cells.has(path) || name === REPLY_SEGMENT) {
      throw new TroupeError(ErrorCode.NameTaken, `an actor named ${path} already exists on ${this.#nodeId}`);
    }
    if (options !== undefined) {
      try {
        assertActorLimits(options, 'spawn');
      } catch (err) {
        throw new TroupeError(ErrorCode.InvalidOptions, (err as Error).message);
      }
    }
    const address = `${this.#nodeId}/${path}`;
    const cell = new ActorCell({ host, definition, address, path, name, parent, spawn: options });
    cell.ref = new LocalRef(address, router, cell);
    this.cells.set(path, cell);
    if (parent) parent.children.set(name, cell);
    else this.roots.set(name, cell);
    cell.start();
    return cell.ref;
  }

  /** Adds a virtual actor's cell: it sits with the top-level actors, so shutdown stops it too. */
  addVirtual(cell: ActorCell): void {
    this.cells.set(cell.address, cell);
    this.roots.set(cell.address, cell);
  }

  /** Forgets a cell that stopped (unless a newer one took its place). */
  remove(cell: ActorCell): void {
    if (this.cells.get(cell.path) === cell) this.cells.delete(cell.path);
    if (cell.parent) {
      if (cell.parent.children.get(cell.name) === cell) cell.parent.children.delete(cell.name);
    } else if (this.roots.get(cell.name) === cell) {
      this.roots.delete(cell.name);
    }
  }
}
