// An actor address parsed once: which node it names, or which virtual actor, so no hop parses it again.

import { parseVirtualAddress } from '../cluster/virtual.js';
import { REPLY_SEGMENT } from '../core/envelope.js';

/**
 * What an address names, relative to the node that parsed it:
 * - `local`: an actor on this node (`node/path`, `node` being this node);
 * - `remote`: an actor on another node;
 * - `virtual`: a virtual actor (`$v/<type>/<id>`), wherever it is active;
 * - `reply`: a pending ask's reply address (`node/$r/<id>`);
 * - `node`: a node itself (`node/$node`), for node-wide commands.
 */
export type AddressKind = 'local' | 'remote' | 'virtual' | 'reply' | 'node';

/** Reserved path segment that addresses a node itself (`node/$node`), for node-wide system commands. */
export const NODE_SEGMENT = '$node';

/** @internal An address string with what it names, parsed once. */
export class Address {
  readonly kind: AddressKind;
  /** The whole address, as it travels in envelopes. */
  readonly text: string;
  /** The node part (`$v` for a virtual address). */
  readonly node: string;
  /** Everything after the node (the actor's path on its node). */
  readonly path: string;
  /** For a virtual address: its type and id. */
  readonly virtual: { readonly type: string; readonly id: string } | undefined;

  private constructor(
    text: string,
    kind: AddressKind,
    node: string,
    path: string,
    virtual?: { type: string; id: string },
  ) {
    this.text = text;
    this.kind = kind;
    this.node = node;
    this.path = path;
    this.virtual = virtual;
  }

  /** Parses `text` as seen from node `self`. The text must already be a valid address. */
  static parse(text: string, self: string): Address {
    const virtual = parseVirtualAddress(text);
    const slash = text.indexOf('/');
    const node = slash < 0 ? text : text.slice(0, slash);
    const path = slash < 0 ? '' : text.slice(slash + 1);
    if (virtual !== undefined) return new Address(text, 'virtual', node, path, virtual);
    if (path === NODE_SEGMENT) return new Address(text, 'node', node, path);
    if (path.startsWith(`${REPLY_SEGMENT}/`)) return new Address(text, 'reply', node, path);
    return new Address(text, node === self ? 'local' : 'remote', node, path);
  }

  /** The address of actor `path` on this node `self`. */
  static local(self: string, path: string): Address {
    return new Address(`${self}/${path}`, 'local', self, path);
  }

  toString(): string {
    return this.text;
  }
}
