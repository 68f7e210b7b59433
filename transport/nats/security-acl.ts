// Access lists of the signed transport: which signer may tell or ask which addresses.

import { InvalidOptionsError } from '../../runtime/index.js';
import { type Envelope, EnvelopeKind } from '../../runtime/internal.js';

/** What a rule grants; `system` covers supervision messages (stop, watch). Replies are always let through. */
export type AclKind = 'tell' | 'ask' | 'system';

/** One rule: nodes matching `from` may send `kinds` to addresses matching `to`. */
export interface AclRule {
  /** Glob over the signer's node id: `*` any run of characters. */
  from: string;
  /** Glob over the target address: `*` any run except `/`, `**` any run. */
  to: string;
  /** @defaultValue all kinds */
  kinds?: AclKind[];
}

const KINDS: readonly AclKind[] = ['tell', 'ask', 'system'];

interface Compiled {
  from: RegExp;
  to: RegExp;
  kinds: ReadonlySet<AclKind>;
}

function globToRegExp(glob: string, slash: boolean): RegExp {
  let source = '';
  for (let i = 0; i < glob.length; i++) {
    const c = glob[i]!;
    if (c === '*') {
      if (slash && glob[i + 1] === '*') {
        source += '.*';
        i++;
      } else source += slash ? '[^/]*' : '.*';
    } else source += c.replace(/[.+?^${}()|[\]\\]/g, '\\$&');
  }
  return new RegExp(`^${source}$`);
}

/** The kind an envelope counts as, or undefined for a reply (never denied). */
function kindOf(envelope: Envelope): AclKind | undefined {
  if (envelope.kind === EnvelopeKind.Reply) return undefined;
  if (envelope.kind === EnvelopeKind.System) return 'system';
  return envelope.replyTo === undefined ? 'tell' : 'ask';
}

/** @internal Compiled rules; a frame no rule allows is denied. Decisions are cached per signer, kind and target. */
export class AccessList {
  readonly #rules: Compiled[];
  readonly #cache = new Map<string, boolean>();

  constructor(rules: readonly AclRule[], field = 'security.acl') {
    if (!Array.isArray(rules)) throw new InvalidOptionsError(field, 'expected an array of rules');
    this.#rules = rules.map((rule, i) => {
      const at = `${field}[${i}]`;
      if (typeof rule !== 'object' || rule === null) throw new InvalidOptionsError(at, 'expected an object');
      if (typeof rule.from !== 'string' || rule.from === '')
        throw new InvalidOptionsError(`${at}.from`, 'expected a non-empty glob');
      if (typeof rule.to !== 'string' || rule.to === '')
        throw new InvalidOptionsError(`${at}.to`, 'expected a non-empty glob');
      const kinds = rule.kinds ?? KINDS;
      if (!Array.isArray(kinds) || !kinds.every((k) => KINDS.includes(k)))
        throw new InvalidOptionsError(`${at}.kinds`, `expected some of ${KINDS.join(', ')}`);
      return { from: globToRegExp(rule.from, false), to: globToRegExp(rule.to, true), kinds: new Set(kinds) };
    });
  }

  /** True when `signer` may send `envelope`. */
  allows(signer: string, envelope: Envelope): boolean {
    const kind = kindOf(envelope);
    if (kind === undefined) return true;
    const key = `${signer}\u0000${kind}\u0000${envelope.target}`;
    let allowed = this.#cache.get(key);
    if (allowed === undefined) {
      allowed = this.#rules.some(
        (r) => r.kinds.has(kind) && r.from.test(signer) && r.to.test(envelope.target),
      );
      // Bounded: targets come from the wire.
      if (this.#cache.size >= 10_000) this.#cache.clear();
      this.#cache.set(key, allowed);
    }
    return allowed;
  }
}
