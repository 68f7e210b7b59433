// Virtual actor types as one node sees them: those it hosts (register) and those its senders declare.

import type { ActorDefinition } from '../actor/definition.js';
import type { Protocol } from '../actor/protocol.js';
import {
  type AnyVirtualType,
  isVirtualType,
  type VirtualActorOptions,
  type VirtualHost,
  virtualAddress,
} from '../cluster/virtual.js';
import { InvalidOptionsError } from '../core/errors.js';
import type { Transport } from '../ports/transport.js';
import { Address } from './address.js';
import { VirtualRef } from './refs.js';
import type { Router } from './router.js';

/** What the virtual types of a node need. */
export interface VirtualTypesOptions {
  nodeId: string;
  transport: Transport | undefined;
  router: Router;
  host: VirtualHost;
}

/**
 * @internal Registers the virtual types this node hosts (announcing them to the transport) and makes refs
 * to virtual actors; a `defineVirtual` value given to either declares its durability to the transport once.
 */
export class VirtualTypes {
  readonly #o: VirtualTypesOptions;
  /** Types declared to the transport through `defineVirtual` values. */
  readonly #declared = new Set<string>();

  constructor(options: VirtualTypesOptions) {
    this.#o = options;
  }

  /** Hosts `type` on this node: by name with a definition, or as a `defineVirtual` value. */
  register(
    type: string | AnyVirtualType,
    definition: ActorDefinition<Protocol, unknown> | undefined,
    options: VirtualActorOptions | undefined,
  ): void {
    const { host, transport } = this.#o;
    if (typeof type !== 'string') {
      if (!isVirtualType(type))
        throw new InvalidOptionsError('type', 'expected a type name or a value from defineVirtual()');
      host.register(type.type, type.definition as ActorDefinition<Protocol, unknown>, type.options);
      this.#declare(type);
    } else {
      if (typeof definition !== 'object' || definition === null || typeof definition.handlers !== 'object')
        throw new InvalidOptionsError('definition', 'expected an actor definition from defineActor()');
      host.register(type, definition, options);
    }
    transport?.hostTypes?.(
      host.types().map((t) => {
        const { placement, durable } = host.registration(t)!.options;
        return { type: t, placement, durable };
      }),
    );
  }

  /** A ref to virtual actor `type`/`id`. */
  ref(type: string | AnyVirtualType, id: string): VirtualRef {
    let name: string;
    if (typeof type === 'string') name = type;
    else if (isVirtualType(type)) {
      this.#declare(type);
      name = type.type;
    } else throw new InvalidOptionsError('type', 'expected a type name or a value from defineVirtual()');
    return new VirtualRef(Address.parse(virtualAddress(name, id), this.#o.nodeId), this.#o.router);
  }

  /** Tells the transport, once per type, what a sender knows of a virtual type: whether it is durable. */
  #declare(type: AnyVirtualType): void {
    if (this.#declared.has(type.type)) return;
    this.#declared.add(type.type);
    this.#o.transport?.declare?.(type.type, type.options.durable);
  }
}
