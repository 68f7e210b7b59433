// The port semantic memory stores vectors through: named collections of (id, vector, text, metadata) records with
// nearest-neighbour queries. memory/chroma/ implements it over Chroma; errors are MemoryErrors with codes.

/** What a metadata field may hold (what Chroma and most vector stores index). */
export type MetadataValue = string | number | boolean;
export type Metadata = Record<string, MetadataValue>;

/**
 * A metadata filter in Chroma's syntax: `{ lang: 'en' }`, `{ year: { $gte: 2020 } }`, `{ $and: [...] }`,
 * `{ $or: [...] }`; operators `$eq $ne $gt $gte $lt $lte $in $nin`. Several plain fields mean all of them.
 */
export type Where = Record<string, unknown>;

/** One stored record. */
export interface VectorRecord {
  id: string;
  vector: number[];
  text: string;
  metadata: Metadata;
}

/** A record near a query vector; `distance` is the cosine distance (0 = same direction, 2 = opposite). */
export interface VectorHit {
  id: string;
  text: string;
  metadata: Metadata;
  distance: number;
}

/** A collection as listed. */
export interface CollectionInfo {
  name: string;
  metadata: Metadata;
}

export interface VectorCollection {
  readonly name: string;
  /** The collection's own metadata (troupe records the embedder id and dimension in it). */
  readonly metadata: Metadata;
  /** Inserts or replaces records by id. */
  upsert(records: readonly VectorRecord[]): Promise<void>;
  delete(ids: readonly string[]): Promise<void>;
  /** Ids of the records matching `where`. */
  ids(where: Where): Promise<string[]>;
  /** The `k` nearest records matching `where`, nearest first. */
  query(vector: readonly number[], k: number, where?: Where): Promise<VectorHit[]>;
  count(): Promise<number>;
}

export interface VectorStore {
  /**
   * The collection `name`, created with `metadata` (cosine space) when absent and `create` is true; undefined
   * when absent and `create` is false.
   */
  open(name: string, options: { create: boolean; metadata: Metadata }): Promise<VectorCollection | undefined>;
  /** Collections whose name starts with `prefix`. */
  list(prefix: string): Promise<CollectionInfo[]>;
  /** Deletes a collection; false when there was none. */
  drop(name: string): Promise<boolean>;
  close(): Promise<void>;
}
