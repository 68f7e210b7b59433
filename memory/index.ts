// troupe/memory: episodic memory (Redis), semantic memory (Chroma), procedural memory (a key-value store), and
// state backends behind the runtime's Persistence port. Each part adds its exports here.

export type { ChromaStoreOptions } from './chroma/store.js';
export { chromaStore } from './chroma/store.js';
export type { ChunkOptions } from './chunking.js';
export { chunkText } from './chunking.js';
export type { AssembleContextOptions, RetrievedText } from './context.js';
export { assembleContext, messageTokens } from './context.js';
export type { Embedder, RouterEmbedderOptions } from './embedder.js';
export { collectionName, hashingEmbedder, routerEmbedder } from './embedder.js';
export type {
  EpisodeScope,
  EpisodicMemory,
  SummarizeOptions,
  SummarizeResult,
  Summarizer,
  SummaryInfo,
  Turn,
  TurnInput,
  TurnRole,
  WorkingMemory,
} from './episodic.js';
export { MemoryError, MemoryErrorCode } from './errors.js';
export type { PostgresStateStoreOptions } from './postgres/state.js';
export {
  DEFAULT_POSTGRES_STATE_TABLE,
  postgresPersistence,
  postgresStateStore,
} from './postgres/state.js';
export type {
  ProceduralMemory,
  ProceduralMemoryOptions,
  Procedure,
  ProcedureInput,
  ProcedureKind,
} from './procedural.js';
export { proceduralMemory } from './procedural.js';
export type { EpisodicMemoryOptions } from './redis/episodic.js';
export { episodicMemory } from './redis/episodic.js';
export type { RedisStateStoreOptions } from './redis/state.js';
export { DEFAULT_REDIS_STATE_PREFIX, redisPersistence, redisStateStore } from './redis/state.js';
export type {
  SearchOptions,
  SemanticDocument,
  SemanticHit,
  SemanticMemory,
  SemanticMemoryOptions,
} from './semantic.js';
export { semanticMemory } from './semantic.js';
export type { PersistenceFromOptions, StateCodec, StatePersistence, StateStore } from './state.js';
export { jsonStateCodec, persistenceFrom, StateError, StateErrorCode } from './state.js';
export type { MigrateStateOptions, MigrateStateReport } from './state-migrate.js';
export { migrateState } from './state-migrate.js';
export type { ModelSummarizerOptions } from './summarizer.js';
export { modelSummarizer } from './summarizer.js';
export type {
  CollectionInfo,
  Metadata,
  MetadataValue,
  VectorCollection,
  VectorHit,
  VectorRecord,
  VectorStore,
  Where,
} from './vector-store.js';
