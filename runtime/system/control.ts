// The control plane: lifecycle commands (stop, terminate, pause, resume, restart), spawnOn, `ps` and recent
// dead letters, local or remote.

import type { ActorCell } from '../actor/cell.js';
import { requestChildRestart } from '../actor/children.js';
import type { AnyActorRef } from '../actor/ref.js';
import { type NodeLoad, nodeInfo, type PlacementStrategy } from '../cluster/placement.js';
import type { VirtualHost } from '../cluster/virtual.js';
import type { DeadLetter } from '../core/dead-letters.js';
import { assertValidName, type Envelope } from '../core/envelope.js';
import { ErrorCode, InvalidOptionsError, TroupeError } from '../core/errors.js';
import type { Transport } from '../ports/transport.js';
import type { ActorInfo, NodeDeadLetter, PsOptions } from './actor-system.js';
import { NODE_SEGMENT } from './address.js';
import { MAX_TIMEOUT_MS } from './checks.js';
import type { Router } from './router.js';

const DEFAULT_PS_TIMEOUT_MS = 500;

/** A lifecycle command, as it travels in a `System` envelope. */
export type ControlCommand = 'stop' | 'terminate' | 'pause' | 'resume' | 'restart';

const COMMANDS: ReadonlySet<unknown> = new Set<ControlCommand>([
  'stop',
  'terminate',
  'pause',
  'resume',
  'restart',
]);

/** What the control plane needs from its system. */
export interface ControlOptions {
  nodeId: string;
  askTimeoutMs: number;
  transport: Transport | undefined;
  router: Router;
  cells: ReadonlyMap<string, ActorCell>;
  virtual: VirtualHost;
  /** Spawns a top-level actor of a type registered here. */
  spawnRegistered(type: string, name: string | undefined): AnyActorRef;
  inspect(): ActorInfo[];
  load(): NodeLoad;
  /** This node's recent dead letters. */
  deadLetters(): DeadLetter[];
}

/** @internal Lifecycle commands and node-wide queries, for this node's actors and for other nodes'. */
export class Control {
  readonly #o: ControlOptions;

  constructor(options: ControlOptions) {
    this.#o = options;
  }

  /** A `System` envelope addressed to this node: a node-wide query or a command for one of its actors. */
  onSystemMessage(envelope: Envelope): void {
    const { router } = this.#o;
    const command = envelope.payload as { type?: unknown; subtree?: unknown } | null;
    const type = typeof command === 'object' && command !== null ? command.type : undefined;
    const path = envelope.target.slice(this.#o.nodeId.length + 1);
    if (path === NODE_SEGMENT && type === 'ps') {
      router.reply(envelope, this.#o.inspect(), false);
      return;
    }
    if (path === NODE_SEGMENT && type === 'dead-letters') {
      router.reply(envelope, this.#o.deadLetters(), false);
      return;
    }
    // A command for a virtual actor, asked of every node: the one hosting it answers true, the others false.
    if (path === NODE_SEGMENT && COMMANDS.has(type)) {
      const actor = (command as { actor?: unknown }).actor;
      const cell = typeof actor === 'string' ? this.#o.cells.get(actor) : undefined;
      if (cell === undefined) router.reply(envelope, false, false);
      else {
        void this.#local(cell, type as ControlCommand, command?.subtree === true).then(() =>
          router.reply(envelope, true, false),
        );
      }
      return;
    }
    if (path === NODE_SEGMENT && type === 'spawn') {
      const { actorType, name } = command as { actorType?: unknown; name?: unknown };
      try {
        const ref = this.#o.spawnRegistered(String(actorType), typeof name === 'string' ? name : undefined);
        router.reply(envelope, ref.address, false);
      } catch (err) {
        router.reply(envelope, TroupeError.toWire(err), true);
      }
      return;
    }
    const cell = this.#o.cells.get(path);
    if (!cell && type === 'restart') {
      void this.#restartStopped(path).then((found) =>
        found
          ? router.reply(envelope, true, false)
          : router.reply(
              envelope,
              TroupeError.toWire(new TroupeError(ErrorCode.ActorNotFound, `no actor at ${envelope.target}`)),
              true,
            ),
      );
      return;
    }
    if (!cell) {
      router.undeliverable(
        envelope,
        ErrorCode.ActorNotFound,
        new TroupeError(ErrorCode.ActorNotFound, `no actor at ${envelope.target}`),
      );
      return;
    }
    if (COMMANDS.has(type)) {
      void this.#local(cell, type as ControlCommand, command?.subtree === true).then(() =>
        router.reply(envelope, true, false),
      );
    } else {
      router.undeliverable(
        envelope,
        ErrorCode.InvalidMessage,
        new TroupeError(ErrorCode.InvalidMessage, `unknown system command ${JSON.stringify(type)}`),
      );
    }
  }

  /** Runs `command` on the actor `ref` names, here or on its node; resolves once it took effect. */
  async command(ref: AnyActorRef, command: ControlCommand, subtree: boolean): Promise<void> {
    if (typeof ref !== 'object' || ref === null || typeof ref.address !== 'string')
      throw new InvalidOptionsError('ref', 'expected an actor ref');
    const { nodeId } = this.#o;
    const address = ref.address;
    if (address.startsWith('$v/')) return this.#virtualCommand(address, command, subtree);
    if (address.startsWith(nodeId) && address.charCodeAt(nodeId.length) === 47) {
      const path = address.slice(nodeId.length + 1);
      const cell = this.#o.cells.get(path);
      if (cell) await this.#local(cell, command, subtree);
      else if (command === 'restart') {
        if (!(await this.#restartStopped(path)))
          throw new TroupeError(ErrorCode.ActorNotFound, `no actor at ${address}`);
      } else if (command === 'pause' || command === 'resume') {
        throw new TroupeError(ErrorCode.ActorNotFound, `no actor at ${address}`);
      }
      return;
    }
    await this.#o.router.systemAsk(address, { type: command, subtree }, this.#o.askTimeoutMs);
  }

  /** A virtual actor lives wherever it was activated: here, or on the node that answers for it. */
  async #virtualCommand(address: string, command: ControlCommand, subtree: boolean): Promise<void> {
    const { nodeId, transport, router, askTimeoutMs } = this.#o;
    const cell = this.#o.cells.get(address);
    if (cell) return this.#local(cell, command, subtree);
    const nodes = transport?.nodes === undefined ? [] : await transport.nodes(DEFAULT_PS_TIMEOUT_MS);
    const answers = await Promise.all(
      nodes
        .filter((node) => node !== nodeId)
        .map((node) =>
          router
            .systemAsk(`${node}/${NODE_SEGMENT}`, { type: command, actor: address, subtree }, askTimeoutMs)
            .catch(() => false),
        ),
    );
    if (!answers.includes(true))
      throw new TroupeError(ErrorCode.ActorNotFound, `virtual actor ${address} is not active on any node`);
  }

  /** A child that stopped comes back through its supervisor, which kept its spec. */
  #restartStopped(path: string): Promise<boolean> {
    const slash = path.lastIndexOf('/');
    const parent = slash > 0 ? this.#o.cells.get(path.slice(0, slash)) : undefined;
    return parent === undefined ? Promise.resolve(false) : requestChildRestart(parent, path.slice(slash + 1));
  }

  async #local(cell: ActorCell, command: ControlCommand, subtree: boolean): Promise<void> {
    switch (command) {
      case 'stop':
        return cell.requestStop();
      case 'terminate':
        return cell.terminate();
      case 'restart':
        cell.restart(0, new TroupeError(ErrorCode.ActorStopped, `${cell.address} restarted on request`));
        return;
      case 'pause':
      case 'resume': {
        const visit = (c: ActorCell): void => {
          if (command === 'pause') c.pause();
          else c.resume();
          if (subtree) for (const child of c.children.values()) visit(child);
        };
        visit(cell);
        return;
      }
    }
  }

  /** Spawns a registered type on the node `where` names or a placement strategy picks; resolves with its address. */
  async spawnOn(
    where: string | PlacementStrategy,
    type: string,
    options: { name?: string },
    nextKey: () => string,
  ): Promise<string> {
    if (typeof where === 'string') {
      try {
        assertValidName(where, 'node id');
      } catch (err) {
        throw new InvalidOptionsError('where', (err as Error).message);
      }
    } else if (typeof where !== 'object' || where === null || typeof where.place !== 'function') {
      throw new InvalidOptionsError('where', 'expected a node id or a placement strategy');
    }
    assertValidName(type, 'actor type');
    if (typeof options !== 'object' || options === null)
      throw new InvalidOptionsError('options', 'expected an object');
    const { nodeId } = this.#o;
    let node: string | undefined;
    if (typeof where === 'string') node = where;
    else {
      const members = (this.#o.transport?.members?.() ?? []).filter((m) => m.types.includes(type));
      if (this.#o.virtual.registration(type) && !members.some((m) => m.id === nodeId)) {
        const self = nodeInfo(nodeId, { types: [type], load: this.#o.load() });
        members.push(self);
      }
      node = where.place(`${type}/${options.name ?? nextKey()}`, { self: nodeId, members });
      if (node === undefined)
        throw new TroupeError(ErrorCode.NoResponders, `no node hosts actor type ${type}`);
    }
    if (node === nodeId) return this.#o.spawnRegistered(type, options.name).address;
    const address = await this.#o.router.systemAsk(
      `${node}/${NODE_SEGMENT}`,
      { type: 'spawn', actorType: type, name: options.name },
      this.#o.askTimeoutMs,
    );
    return String(address);
  }

  /** Every actor on every node the transport can list; this node only when it cannot. */
  async ps(options: PsOptions): Promise<ActorInfo[]> {
    const timeout = options.timeoutMs ?? DEFAULT_PS_TIMEOUT_MS;
    if (!(Number.isInteger(timeout) && timeout > 0 && timeout <= MAX_TIMEOUT_MS))
      throw new InvalidOptionsError('timeoutMs', `expected a positive integer, got ${String(timeout)}`);
    const answers = await this.#everyNode<ActorInfo>('ps', timeout, () => this.#o.inspect());
    return answers.flatMap(([node, infos]) => infos.map((info) => ({ ...info, node })));
  }

  /** The recent dead letters of every node the transport can list, each with the node that recorded it. */
  async deadLetters(options: PsOptions): Promise<NodeDeadLetter[]> {
    const timeout = options.timeoutMs ?? DEFAULT_PS_TIMEOUT_MS;
    if (!(Number.isInteger(timeout) && timeout > 0 && timeout <= MAX_TIMEOUT_MS))
      throw new InvalidOptionsError('timeoutMs', `expected a positive integer, got ${String(timeout)}`);
    const answers = await this.#everyNode<DeadLetter>('dead-letters', timeout, () => this.#o.deadLetters());
    return answers.flatMap(([node, letters]) => letters.map((letter) => ({ ...letter, node })));
  }

  /** Asks every node for a list (this node answers directly); nodes that do not answer in time are left out. */
  async #everyNode<T>(type: string, timeout: number, here: () => T[]): Promise<[string, T[]][]> {
    const { nodeId, transport, router } = this.#o;
    const nodes = new Set<string>([nodeId]);
    if (transport?.nodes !== undefined) for (const node of await transport.nodes(timeout)) nodes.add(node);
    return Promise.all(
      [...nodes].map(
        async (node): Promise<[string, T[]]> => [
          node,
          node === nodeId
            ? here()
            : await router.systemAsk(`${node}/${NODE_SEGMENT}`, { type }, timeout).then(
                (list) => (Array.isArray(list) ? (list as T[]) : []),
                () => [],
              ),
        ],
      ),
    );
  }
}
