// The in-process KeyValueStore: the embedded default for model breakers, budgets and caches when a system
// runs alone. Same semantics as the NATS one (revisions, compare-and-set, watch), so tests of either hold.

import { assertKvKey, KeyValueError, type KeyValueStore, type KvEntry, KvErrorCode } from '../ports/kv.js';

type Watcher = { prefix: string; onChange: (key: string, entry: KvEntry | undefined) => void };

class MemoryKeyValue implements KeyValueStore {
  readonly #entries = new Map<string, KvEntry>();
  readonly #watchers = new Set<Watcher>();
  #revision = 0;
  #closed = false;

  async get(key: string): Promise<KvEntry | undefined> {
    this.#check(key);
    return this.#entries.get(key);
  }

  async create(key: string, value: string): Promise<number> {
    this.#check(key);
    if (this.#entries.has(key)) throw new KeyValueError(KvErrorCode.Exists, `key ${key} exists`);
    return this.#write(key, value);
  }

  async update(key: string, value: string, revision: number): Promise<number> {
    this.#check(key);
    const current = this.#entries.get(key)?.revision ?? 0;
    if (current !== revision)
      throw new KeyValueError(
        KvErrorCode.RevisionMismatch,
        `key ${key} is at revision ${current}, not ${revision}`,
      );
    return this.#write(key, value);
  }

  async put(key: string, value: string): Promise<number> {
    this.#check(key);
    return this.#write(key, value);
  }

  async delete(key: string): Promise<void> {
    this.#check(key);
    if (!this.#entries.delete(key)) return;
    this.#revision++;
    this.#notify(key, undefined);
  }

  watch(prefix: string, onChange: (key: string, entry: KvEntry | undefined) => void): () => void {
    const watcher = { prefix, onChange };
    this.#watchers.add(watcher);
    for (const [key, entry] of this.#entries) if (key.startsWith(prefix)) onChange(key, entry);
    return () => this.#watchers.delete(watcher);
  }

  async keys(prefix: string): Promise<string[]> {
    if (this.#closed) throw new KeyValueError(KvErrorCode.Closed, 'the key-value store is closed');
    return [...this.#entries.keys()].filter((key) => key.startsWith(prefix));
  }

  async close(): Promise<void> {
    this.#closed = true;
    this.#watchers.clear();
  }

  #write(key: string, value: string): number {
    const entry = { value, revision: ++this.#revision };
    this.#entries.set(key, entry);
    this.#notify(key, entry);
    return entry.revision;
  }

  #notify(key: string, entry: KvEntry | undefined): void {
    for (const w of this.#watchers) if (key.startsWith(w.prefix)) w.onChange(key, entry);
  }

  #check(key: string): void {
    if (this.#closed) throw new KeyValueError(KvErrorCode.Closed, 'the key-value store is closed');
    assertKvKey(key);
  }
}

/** A {@link KeyValueStore} in this process's memory: for one system, tests, and the router's default. */
export function memoryKeyValue(): KeyValueStore {
  return new MemoryKeyValue();
}
