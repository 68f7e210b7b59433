// Helpers for testing code built on troupe against real servers, and an offline OpenAI-compatible model server.

export { ensureServerBinaries, findBinary } from './binaries.js';
export { startChroma } from './chroma-server.js';
export { cosineSimilarity, DEFAULT_EMBEDDING_DIMENSIONS, embedText } from './llm-server/embeddings.js';
export type { LlmFault, LlmFaultSpec, LlmFaultType } from './llm-server/faults.js';
export type { BilledTokens, LlmBilled, LlmEndpoint, LlmRequestRecord } from './llm-server/log.js';
export { estimateTokens } from './llm-server/log.js';
export type {
  LlmChatRequest,
  LlmReply,
  LlmScriptFn,
  LlmToolCallReply,
  ScriptOptions,
} from './llm-server/scripts.js';
export type { LlmServer, LlmServerOptions } from './llm-server/server.js';
export { DEFAULT_LLM_MAX_BODY_BYTES, startLlmServer } from './llm-server/server.js';
export type { StartNatsOptions } from './nats-server.js';
export { startNats } from './nats-server.js';
export { freePort } from './ports.js';
export type { PostgresServer } from './postgres-server.js';
export { startPostgres } from './postgres-server.js';
export type { StartRedisOptions } from './redis-server.js';
export { startRedis } from './redis-server.js';
export type { ServerProcess } from './server-process.js';
