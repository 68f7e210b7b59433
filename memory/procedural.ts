// Procedural memory: named, versioned prompts, skills and procedures in a fleet's key-value store (NATS KV via
// `natsKeyValue`). Each name has a head key holding its latest version (the one compare-and-set point, so two
// writers never get the same version number) and one immutable key per version, for history and exact reads.

import { type KeyValueStore, KvErrorCode, kvToken, TroupeError } from '../runtime/index.js';
import { MemoryError, MemoryErrorCode } from './errors.js';

/** What a procedure is used as: a prompt (instructions), a skill (a tool an agent may call), or a procedure. */
export type ProcedureKind = 'prompt' | 'skill' | 'procedure';

/** A procedure to store. */
export interface ProcedureInput {
  text: string;
  kind: ProcedureKind;
  description?: string;
  /** Anything small (a tool's input schema, tags), stored as JSON. */
  metadata?: Record<string, unknown>;
}

/** A stored version of a procedure. */
export interface Procedure extends ProcedureInput {
  readonly name: string;
  /** 1 for the first `put`, one more for each later one. */
  readonly version: number;
  /** Epoch ms of the `put`. */
  readonly createdAt: number;
}

/** Options of {@link proceduralMemory}. */
export interface ProceduralMemoryOptions {
  store: KeyValueStore;
  /** Key prefix (dot-separated tokens of `[-_=/a-zA-Z0-9]`). @defaultValue 'procedures' */
  prefix?: string;
}

/**
 * Named, versioned procedures. Every operation rejects with a {@link MemoryError}: `MEMORY_UNAVAILABLE` while the
 * store is unreachable, `MEMORY_NOT_FOUND` for an unknown name or version, `MEMORY_INVALID` for bad input.
 */
export interface ProceduralMemory {
  /** Stores a new version of `name`; returns its version number. */
  put(name: string, procedure: ProcedureInput): Promise<number>;
  /** The latest version of `name`, or the given one. */
  get(name: string, version?: number): Promise<Procedure>;
  /** Every stored version of `name`, oldest first ([] for an unknown name). */
  history(name: string): Promise<Procedure[]>;
  /** The names stored (needs a store that lists keys). */
  names(): Promise<string[]>;
  /**
   * Calls `onUpdate` with the latest version now (if any) and with each later one, from any process writing to
   * the store; versions are delivered in increasing order, each once. Returns the function that stops it.
   * Needs a store that watches (NATS KV and the in-memory store do).
   */
  watch(name: string, onUpdate: (procedure: Procedure) => void): () => void;
}

const KINDS: ReadonlySet<string> = new Set(['prompt', 'skill', 'procedure']);
/** Compare-and-set attempts of one `put` under contention before it gives up. */
const PUT_ATTEMPTS = 50;

function toMemoryError(err: unknown, what: string): unknown {
  if (err instanceof MemoryError || !TroupeError.is(err)) return err;
  const code =
    err.code === KvErrorCode.Unavailable || err.code === KvErrorCode.Closed
      ? MemoryErrorCode.Unavailable
      : err.code === KvErrorCode.InvalidKey
        ? MemoryErrorCode.Invalid
        : undefined;
  if (code === undefined) return err;
  return new MemoryError(code, `procedural memory ${what}: ${err.message}`, { cause: err });
}

function parse(value: string, key: string): Procedure {
  try {
    const p = JSON.parse(value) as Procedure;
    if (typeof p.name === 'string' && Number.isInteger(p.version) && typeof p.text === 'string') return p;
  } catch {
    // reported below
  }
  throw new MemoryError(MemoryErrorCode.Invalid, `the value at ${key} is not a stored procedure`);
}

function assertName(name: string): void {
  if (typeof name !== 'string' || name === '')
    throw new MemoryError(MemoryErrorCode.Invalid, 'a procedure name must be a non-empty string');
}

function assertInput(p: ProcedureInput): void {
  if (typeof p !== 'object' || p === null || typeof p.text !== 'string' || !KINDS.has(p.kind))
    throw new MemoryError(
      MemoryErrorCode.Invalid,
      'a procedure needs text (a string) and kind (prompt, skill or procedure)',
    );
  if (p.description !== undefined && typeof p.description !== 'string')
    throw new MemoryError(MemoryErrorCode.Invalid, 'description must be a string');
}

class KvProceduralMemory implements ProceduralMemory {
  readonly #store: KeyValueStore;
  readonly #prefix: string;

  constructor(store: KeyValueStore, prefix: string) {
    this.#store = store;
    this.#prefix = prefix;
  }

  // Heads under `<prefix>.h.<name>.` (a watchable prefix per name), versions under `<prefix>.v.<name>.<n>`.
  #head(name: string): string {
    return `${this.#prefix}.h.${kvToken(name)}.latest`;
  }
  #version(name: string, version: number): string {
    return `${this.#prefix}.v.${kvToken(name)}.${version}`;
  }

  async #call<T>(what: string, fn: () => Promise<T>): Promise<T> {
    try {
      return await fn();
    } catch (err) {
      throw toMemoryError(err, what);
    }
  }

  async put(name: string, procedure: ProcedureInput): Promise<number> {
    assertName(name);
    assertInput(procedure);
    return this.#call('put', async () => {
      const head = this.#head(name);
      for (let attempt = 0; attempt < PUT_ATTEMPTS; attempt++) {
        const current = await this.#store.get(head);
        const version = current === undefined ? 1 : parse(current.value, head).version + 1;
        const record: Procedure = {
          name,
          version,
          kind: procedure.kind,
          text: procedure.text,
          ...(procedure.description === undefined ? {} : { description: procedure.description }),
          ...(procedure.metadata === undefined ? {} : { metadata: procedure.metadata }),
          createdAt: Date.now(),
        };
        const json = JSON.stringify(record);
        try {
          // Winning the head's compare-and-set is what makes `version` ours; the version key follows.
          await this.#store.update(head, json, current?.revision ?? 0);
        } catch (err) {
          if (TroupeError.is(err, KvErrorCode.RevisionMismatch) || TroupeError.is(err, KvErrorCode.Exists))
            continue;
          throw err;
        }
        // If this write is lost (a crash right here), the head still holds the version: `get` falls back to it.
        await this.#store.put(this.#version(name, version), json);
        return version;
      }
      throw new MemoryError(
        MemoryErrorCode.Unavailable,
        `put of ${name} lost ${PUT_ATTEMPTS} compare-and-sets in a row to other writers`,
      );
    });
  }

  get(name: string, version?: number): Promise<Procedure> {
    assertName(name);
    if (version !== undefined && (!Number.isInteger(version) || version < 1))
      throw new MemoryError(MemoryErrorCode.Invalid, 'a version is a positive integer');
    return this.#call('get', async () => {
      if (version !== undefined) {
        const key = this.#version(name, version);
        const entry = await this.#store.get(key);
        if (entry !== undefined) return parse(entry.value, key);
      }
      const head = await this.#store.get(this.#head(name));
      const latest = head === undefined ? undefined : parse(head.value, this.#head(name));
      if (latest !== undefined && (version === undefined || latest.version === version)) return latest;
      throw new MemoryError(
        MemoryErrorCode.NotFound,
        version === undefined ? `no procedure ${name}` : `no version ${version} of procedure ${name}`,
        { data: { name, version } },
      );
    });
  }

  history(name: string): Promise<Procedure[]> {
    assertName(name);
    return this.#call('history', async () => {
      const head = await this.#store.get(this.#head(name));
      if (head === undefined) return [];
      const latest = parse(head.value, this.#head(name));
      const older = await Promise.all(
        Array.from({ length: latest.version - 1 }, (_, i) => this.#store.get(this.#version(name, i + 1))),
      );
      const versions: Procedure[] = [];
      older.forEach((entry, i) => {
        if (entry !== undefined) versions.push(parse(entry.value, this.#version(name, i + 1)));
      });
      versions.push(latest);
      return versions;
    });
  }

  names(): Promise<string[]> {
    const keys = this.#store.keys;
    if (keys === undefined)
      return Promise.reject(
        new MemoryError(MemoryErrorCode.Invalid, 'this key-value store cannot list keys'),
      );
    return this.#call('names', async () => {
      const heads = await keys.call(this.#store, `${this.#prefix}.h.`);
      return heads.map((key) => Buffer.from(key.split('.').at(-2) ?? '', 'base64url').toString()).sort();
    });
  }

  watch(name: string, onUpdate: (procedure: Procedure) => void): () => void {
    assertName(name);
    if (this.#store.watch === undefined)
      throw new MemoryError(MemoryErrorCode.Invalid, 'this key-value store cannot watch keys');
    const head = this.#head(name);
    let delivered = 0;
    // A store's watch replays current values after an outage: the version number drops the repeats.
    return this.#store.watch(head.slice(0, -'latest'.length), (key, entry) => {
      if (key !== head || entry === undefined) return;
      let procedure: Procedure;
      try {
        procedure = parse(entry.value, key);
      } catch {
        return;
      }
      if (procedure.version <= delivered) return;
      delivered = procedure.version;
      onUpdate(procedure);
    });
  }
}

/**
 * Procedural memory on a key-value store: `natsKeyValue(...)` for a fleet (every node sees every version, and
 * `watch` sees updates from any of them), `memoryKeyValue()` for one process.
 *
 * @example
 * const procedures = proceduralMemory({ store: await natsKeyValue({ servers, bucket: 'procedures' }) });
 * const v = await procedures.put('triage', { kind: 'prompt', text: 'Sort the ticket into ...' });
 * procedures.watch('triage', (p) => agent.setInstructions(p.text));
 */
export function proceduralMemory(options: ProceduralMemoryOptions): ProceduralMemory {
  if (typeof options !== 'object' || options === null || typeof options.store?.get !== 'function')
    throw new MemoryError(MemoryErrorCode.Invalid, 'proceduralMemory needs { store: KeyValueStore }');
  const prefix = options.prefix ?? 'procedures';
  if (!/^[-_=/a-zA-Z0-9]+(\.[-_=/a-zA-Z0-9]+)*$/.test(prefix))
    throw new MemoryError(MemoryErrorCode.Invalid, `invalid prefix ${JSON.stringify(prefix)}`);
  return new KvProceduralMemory(options.store, prefix);
}
