// The load agent: the actor that runs a node's share of a load run, and the protocol it speaks.

export type { LoadAgentOptions } from './agent.js';
export { loadAgent, startLoadAgent } from './agent.js';
export type { HistogramData, LoadAgentProtocol, ModuleRef, NodeSnapshot, RunPlan } from './protocol.js';
export { LOAD_AGENT_NAME, LOAD_ROLE } from './protocol.js';
