// The built-in load targets (HTTP, NATS, LLM endpoints, troupe actors), the target contract and the host check.

export type { ActorClient, ActorTargetOptions, VirtualActorTarget } from './actor.js';
export { actor } from './actor.js';
export type {
  HttpClient,
  HttpRequest,
  HttpRequestOptions,
  HttpResponse,
  HttpTargetOptions,
} from './http.js';
export { http } from './http.js';
export type { LlmChatOptions, LlmChatResult, LlmClient, LlmTargetOptions } from './llm.js';
export { llm } from './llm.js';
export { assertAllowedHost, hostOf, isLoopbackHost } from './loopback.js';
export type { NatsClient, NatsPayload, NatsReply, NatsTargetOptions } from './nats.js';
export { natsTarget } from './nats.js';
export type { ClientOf, OpenedTarget, TargetContext, TargetFactory } from './target.js';
