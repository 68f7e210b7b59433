// Helpers for testing code built on troupe against real servers, and an offline OpenAI-compatible model server.

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
export type { PostgresServer, ServerProcess, StartNatsOptions, StartRedisOptions } from './servers.js';
export {
  ensureServerBinaries,
  findBinary,
  freePort,
  startChroma,
  startNats,
  startPostgres,
  startRedis,
} from './servers.js';
