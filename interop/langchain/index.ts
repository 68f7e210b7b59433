// LangChain.js and LangGraph.js interop: message conversion and an adapter that runs a runnable or a compiled
// graph as a troupe agent actor. The only entry that loads @langchain/core (an optional peer dependency):
// `troupe/interop/langchain`.

export * from '../openai/index.js';
export type {
  InvokableRunnable,
  LangChainAgentDefinition,
  LangChainAgentOptions,
  LangChainAgentProtocol,
  LangChainAgentState,
  LangChainAgentStatus,
  LangChainRunInfo,
  LangChainRunState,
  LangChainRunStatus,
} from './agent.js';
export { langchainAgent } from './agent.js';
export {
  fromLangChainMessage,
  fromLangChainMessages,
  toLangChainMessage,
  toLangChainMessages,
} from './messages.js';
