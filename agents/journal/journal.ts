// One run's journal: entries appended to an AppendLog under the run id before the agent acts on them, large
// fields in content-addressed blobs, replay into a RunState, and compaction into a snapshot. One writer per run
// (the agent actor that owns it); readers on any node open it and see the same entries.

import { type AppendLog, type KeyValueStore, TroupeError } from '../../runtime/index.js';
import { BlobStore, DEFAULT_BLOB_PREFIX } from './blobs.js';
import {
  assertEntry,
  BLOB_FIELDS,
  type BlobRef,
  HEAVY_FIELDS,
  type JournalEntry,
  SNAPSHOT_CHUNK,
  type SnapshotRecord,
} from './entries.js';
import { JournalError, JournalErrorCode } from './errors.js';
import { type ReplayOptions, type RunState, replayEntries } from './replay.js';
import { addOpenRun, DEFAULT_RUN_INDEX_PREFIX, openRuns, removeOpenRun } from './run-index.js';

/** Fields larger than this (UTF-8 bytes of their JSON) go to the blob store. */
export const DEFAULT_BLOB_THRESHOLD_BYTES = 1024;

export interface RunJournalOptions {
  /** @defaultValue 1024 */
  blobThresholdBytes?: number;
  /** Key prefix of blobs in the key-value store. @defaultValue `agents.blobs` */
  blobPrefix?: string;
  /** Key prefix of the open-runs index. @defaultValue `agents.runs` */
  runIndexPrefix?: string;
  /** Compacts by itself once this many records were appended since the last snapshot. @defaultValue never */
  compactEvery?: number;
  /** The run's agent, for the open-runs index (else read from the `started` entry). */
  agent?: string;
  /**
   * The caller made the run id just now (a random one), so the log holds nothing of it: opening skips the read,
   * a round trip to the store (an ordered consumer on JetStream). @defaultValue false
   */
  fresh?: boolean;
}

/** Sizes, for measuring growth: what the run holds in the log now, and what this instance wrote. */
export interface JournalStats {
  /** Records of the run in the log now (1 after a compaction, plus what came since). */
  records: number;
  /** UTF-8 bytes of those records. */
  bytes: number;
  /** Records this instance appended (snapshots included). */
  appendedRecords: number;
  /** UTF-8 bytes of them. */
  appendedBytes: number;
  /** Blobs written (deduplicated ones not counted) and their bytes. */
  blobsWritten: number;
  blobBytes: number;
}

interface Item {
  seq: number;
  /** The entry as stored: JSON, with large fields as blob references. Equal texts are one entry written twice. */
  stored: string;
  entry: JournalEntry;
}

type Stored = Record<string, unknown> & { kind: string; [BLOB_FIELDS]?: string[] };

function parseRecord(data: string, seq: number): Stored {
  let value: unknown;
  try {
    value = JSON.parse(data);
  } catch (err) {
    throw new JournalError(JournalErrorCode.Corrupt, `journal record ${seq} is not JSON`, { cause: err });
  }
  if (typeof value !== 'object' || value === null || typeof (value as Stored).kind !== 'string')
    throw new JournalError(JournalErrorCode.Corrupt, `journal record ${seq} is not an entry`);
  return value as Stored;
}

export class RunJournal {
  readonly runId: string;
  readonly #log: AppendLog;
  readonly #kv: KeyValueStore;
  readonly #blobs: BlobStore;
  readonly #threshold: number;
  readonly #indexPrefix: string;
  readonly #compactEvery: number;
  #items: Item[] = [];
  readonly #seen = new Set<string>();
  #agent: string | undefined;
  #lastSeq = 0;
  #records = 0;
  #bytes = 0;
  #sinceSnapshot = 0;
  #appendedRecords = 0;
  #appendedBytes = 0;
  readonly #inflight = new Set<Promise<unknown>>();
  #compacting: Promise<void> | undefined;

  private constructor(log: AppendLog, kv: KeyValueStore, runId: string, options: RunJournalOptions) {
    this.runId = runId;
    this.#log = log;
    this.#kv = kv;
    this.#blobs = new BlobStore(kv, options.blobPrefix ?? DEFAULT_BLOB_PREFIX);
    this.#threshold = options.blobThresholdBytes ?? DEFAULT_BLOB_THRESHOLD_BYTES;
    this.#indexPrefix = options.runIndexPrefix ?? DEFAULT_RUN_INDEX_PREFIX;
    this.#compactEvery = options.compactEvery ?? Number.POSITIVE_INFINITY;
    this.#agent = options.agent;
  }

  /**
   * Opens run `runId`'s journal: reads its records (from the last snapshot on) and resolves their blobs. A run
   * never journaled opens empty. Rejects with the log's or store's code when they are down (`LOG_UNAVAILABLE`).
   */
  static async open(
    log: AppendLog,
    blobs: KeyValueStore,
    runId: string,
    options: RunJournalOptions = {},
  ): Promise<RunJournal> {
    const journal = new RunJournal(log, blobs, runId, options);
    if (options.fresh === true) return journal;
    try {
      await journal.#load();
    } catch (err) {
      if (TroupeError.is(err)) throw err;
      // A record someone else wrote into the run's subject, with a shape no entry has.
      throw new JournalError(
        JournalErrorCode.Corrupt,
        `journal of ${runId} is damaged: ${(err as Error).message}`,
        {
          cause: err,
        },
      );
    }
    return journal;
  }

  /** The open (unfinished) runs of `agent` in the index in `kv`, oldest first. */
  static openRuns(kv: KeyValueStore, agent: string, prefix = DEFAULT_RUN_INDEX_PREFIX): Promise<string[]> {
    return openRuns(kv, agent, prefix);
  }

  /** Whether the run has a `finished` or `failed` entry. */
  get ended(): boolean {
    return this.#items.some((i) => i.entry.kind === 'finished' || i.entry.kind === 'failed');
  }

  /**
   * Waits for appends in flight; when the run has ended, compacts it and makes sure it is out of the open-runs
   * index (again: a crash may have come between its last entry and the index update). The stores stay open.
   */
  /** Waits for appends and index writes in flight (the index is written beside the records, not before them). */
  async flush(): Promise<void> {
    while (this.#inflight.size > 0) await Promise.allSettled([...this.#inflight]);
  }

  async close(): Promise<void> {
    await this.flush();
    if (!this.ended) return;
    await this.compact();
    if (this.#agent !== undefined) await removeOpenRun(this.#kv, this.#agent, this.runId, this.#indexPrefix);
  }

  /** The run's entries, oldest first, blobs resolved (an entry stored twice by a retried append shows once). */
  entries(): JournalEntry[] {
    return this.#items.map((i) => i.entry);
  }

  /** The run's state after its entries: see {@link RunState}. */
  replay(options?: ReplayOptions): RunState {
    return replayEntries(this.runId, this.entries(), options);
  }

  get stats(): JournalStats {
    return {
      records: this.#records,
      bytes: this.#bytes,
      appendedRecords: this.#appendedRecords,
      appendedBytes: this.#appendedBytes,
      blobsWritten: this.#blobs.stats.written,
      blobBytes: this.#blobs.stats.bytes,
    };
  }

  /**
   * Appends `entry`; resolves once it is stored (its blobs first). `started` also records the run in the
   * agent's open-runs index, `finished`/`failed` drop it from there. Rejects with `JOURNAL_INVALID_ENTRY`, or the
   * store's code: then the entry may or may not be stored, and appending it again is safe (replay drops repeats).
   */
  async append(entry: JournalEntry): Promise<void> {
    assertEntry(entry);
    while (this.#compacting !== undefined) await this.#compacting.catch(() => undefined);
    const work = this.#append(entry);
    this.#inflight.add(work);
    try {
      await work;
    } finally {
      this.#inflight.delete(work);
    }
    if (this.#sinceSnapshot >= this.#compactEvery && this.#compacting === undefined)
      // Best effort: the entry is stored; a compaction that fails now is tried again after the next append.
      await this.compact().catch(() => undefined);
  }

  /** Work that goes on after an append resolved (index upkeep): close() waits for it, and redoes the removal. */
  #track(work: Promise<unknown>): void {
    const settled = work.catch(() => undefined);
    this.#inflight.add(settled);
    void settled.finally(() => this.#inflight.delete(settled));
  }

  /**
   * Replaces the run's records with one snapshot: the entries in their stored form, as content-addressed
   * chunks of {@link SNAPSHOT_CHUNK} (a chunk already stored by an earlier compaction is not written again),
   * then purges what it covers. Replay is unchanged. Appends wait while it runs.
   */
  compact(): Promise<void> {
    if (this.#compacting !== undefined) return this.#compacting;
    const run = this.#compact().finally(() => {
      this.#compacting = undefined;
    });
    this.#compacting = run;
    return run;
  }

  async #compact(): Promise<void> {
    while (this.#inflight.size > 0) await Promise.allSettled([...this.#inflight]);
    if (this.#sinceSnapshot === 0 && this.#records <= 1) return;
    const stored = this.#items.map((i) => i.stored);
    const chunks: Promise<BlobRef>[] = [];
    for (let i = 0; i < stored.length; i += SNAPSHOT_CHUNK)
      chunks.push(this.#blobs.put(`[${stored.slice(i, i + SNAPSHOT_CHUNK).join(',')}]`));
    const snapshot: SnapshotRecord = {
      kind: 'snapshot',
      upToSeq: this.#lastSeq,
      count: stored.length,
      chunks: await Promise.all(chunks),
    };
    const data = JSON.stringify(snapshot);
    const seq = await this.#log.append(this.runId, data);
    const bytes = Buffer.byteLength(data);
    this.#appendedRecords++;
    this.#appendedBytes += bytes;
    this.#lastSeq = Math.max(this.#lastSeq, seq);
    // A crash before this purge leaves the old records too: replay starts from the last snapshot anyway.
    await this.#log.purge(this.runId, seq);
    this.#records = 1;
    this.#bytes = bytes;
    this.#sinceSnapshot = 0;
  }

  async #append(entry: JournalEntry): Promise<void> {
    const stored = await this.#store(entry);
    const data = JSON.stringify(stored);
    // Indexed beside the run's first record, not before it, and not awaited (two store round trips saved per
    // run): a crash before the index write lands leaves a started run out of the index, so it resumes when asked
    // again with its id rather than on its own when its agent starts; the index only serves that start-up
    // resume. close() waits for the write, then (for an ended run) removes the entry whatever the order.
    if (entry.kind === 'started')
      this.#track(addOpenRun(this.#kv, entry.agent, this.runId, this.#indexPrefix));
    const seq = await this.#log.append(this.runId, data);
    const bytes = Buffer.byteLength(data);
    this.#records++;
    this.#bytes += bytes;
    this.#sinceSnapshot++;
    this.#appendedRecords++;
    this.#appendedBytes += bytes;
    this.#lastSeq = Math.max(this.#lastSeq, seq);
    // What entries() shows is what a reader on another node gets: the stored JSON read back, not the caller's
    // object (which it may go on changing).
    this.#add({ seq, stored: data, entry: await this.#resolve(JSON.parse(data) as Stored) });
    if (entry.kind === 'started') this.#agent ??= entry.agent;
    // Out of the index after the answer rather than before it: close() waits for it, and a crash before it is
    // harmless (close() removes it again, and an ended run found in the index resumes to nothing).
    if ((entry.kind === 'finished' || entry.kind === 'failed') && this.#agent !== undefined)
      this.#track(removeOpenRun(this.#kv, this.#agent, this.runId, this.#indexPrefix));
  }

  /** Adds an item in sequence order (concurrent appends may finish out of order), dropping exact repeats. */
  #add(item: Item): void {
    if (this.#seen.has(item.stored)) return;
    this.#seen.add(item.stored);
    let at = this.#items.length;
    while (at > 0 && (this.#items[at - 1] as Item).seq > item.seq) at--;
    this.#items.splice(at, 0, item);
  }

  /** The stored form of `entry`: its large fields written as blobs and replaced by references. */
  async #store(entry: JournalEntry): Promise<Stored> {
    const out: Stored = { ...(entry as unknown as Stored) };
    const fields = HEAVY_FIELDS[entry.kind];
    const blobbed = await Promise.all(
      fields.map(async (field) => {
        const value = out[field];
        if (value === undefined) return false;
        const text = JSON.stringify(value);
        if (text.length * 3 <= this.#threshold || Buffer.byteLength(text) <= this.#threshold) return false;
        out[field] = await this.#blobs.put(text);
        return true;
      }),
    );
    const names = fields.filter((_, i) => blobbed[i]);
    if (names.length > 0) out[BLOB_FIELDS] = names;
    return out;
  }

  /** The entry a stored record holds, its blobs read (from this journal's cache when it wrote them). */
  async #resolve(value: Stored): Promise<JournalEntry> {
    const entry: Record<string, unknown> = { ...value };
    delete entry[BLOB_FIELDS];
    for (const f of value[BLOB_FIELDS] ?? [])
      entry[f] = JSON.parse(await this.#blobs.get(value[f] as BlobRef));
    return entry as unknown as JournalEntry;
  }

  async #load(): Promise<void> {
    const records = await this.#log.read(this.runId);
    const parsed = records.map((r) => ({ record: r, value: parseRecord(r.data, r.seq) }));
    let from = 0;
    let covered = 0;
    const raw: { seq: number; value: Stored }[] = [];
    for (let i = parsed.length - 1; i >= 0; i--) {
      const p = parsed[i] as (typeof parsed)[number];
      if (p.value.kind !== 'snapshot') continue;
      const snapshot = p.value as unknown as SnapshotRecord;
      covered = snapshot.upToSeq;
      from = i + 1;
      const texts = await Promise.all(snapshot.chunks.map((c) => this.#blobs.get(c)));
      for (const text of texts) for (const value of JSON.parse(text) as Stored[]) raw.push({ seq: 0, value });
      break;
    }
    for (const p of parsed.slice(from))
      if (p.value.kind !== 'snapshot' && p.record.seq > covered)
        raw.push({ seq: p.record.seq, value: p.value });
    // Every blob the entries refer to, fetched at once.
    const refs = new Map<string, BlobRef>();
    for (const { value } of raw)
      for (const f of value[BLOB_FIELDS] ?? []) {
        const ref = value[f] as BlobRef;
        refs.set(ref.blob, ref);
      }
    await Promise.all([...refs.values()].map((ref) => this.#blobs.get(ref)));
    for (const { seq, value } of raw) {
      const entry = await this.#resolve(value);
      try {
        assertEntry(entry);
      } catch (err) {
        throw new JournalError(
          JournalErrorCode.Corrupt,
          `journal of ${this.runId}: ${(err as Error).message}`,
          {
            cause: err,
          },
        );
      }
      this.#add({ seq, stored: JSON.stringify(value), entry });
      if (entry.kind === 'started') this.#agent ??= entry.agent;
    }
    this.#records = records.length;
    this.#bytes = records.reduce((n, r) => n + Buffer.byteLength(r.data), 0);
    this.#sinceSnapshot = records.length - from;
    this.#lastSeq = records.at(-1)?.seq ?? 0;
  }
}

/** Whether `err` means the journal's stores are out of reach (try again later) rather than a damaged journal. */
export function isJournalUnavailable(err: unknown): boolean {
  return TroupeError.is(err) && (err.code === 'LOG_UNAVAILABLE' || err.code === 'KV_UNAVAILABLE');
}
