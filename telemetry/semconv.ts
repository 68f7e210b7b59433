// Span names and attribute keys troupe records, in one place. Messages and tasks follow the OpenTelemetry
// messaging conventions (messaging.*); troupe's own facts use the `troupe.` namespace. The LLM spans of the agent
// layer will follow the GenAI conventions (gen_ai.*) and get their keys here too.

/** OpenTelemetry messaging attribute keys (semantic conventions, messaging spans). */
export const MessagingAttr = {
  System: 'messaging.system',
  OperationType: 'messaging.operation.type',
  OperationName: 'messaging.operation.name',
  DestinationName: 'messaging.destination.name',
  MessageId: 'messaging.message.id',
  ConversationId: 'messaging.message.conversation_id',
} as const;

/** `messaging.operation.type` values. */
export const MessagingOperation = {
  Send: 'send',
  Receive: 'receive',
  Process: 'process',
  Settle: 'settle',
  Create: 'create',
} as const;

/** `messaging.system` values: troupe's own mailboxes, NATS when the wire is NATS, BullMQ for tasks. */
export const MessagingSystem = {
  Troupe: 'troupe',
  Nats: 'nats',
  Bullmq: 'bullmq',
} as const;

/** The general error attribute (`error.type`): troupe puts the error's `code` there. */
export const ErrorAttr = { Type: 'error.type' } as const;

/** troupe's own attributes. */
export const TroupeAttr = {
  ActorType: 'troupe.actor.type',
  ActorAddress: 'troupe.actor.address',
  NodeId: 'troupe.node.id',
  MessageType: 'troupe.message.type',
  Sender: 'troupe.message.sender',
  TaskName: 'troupe.task.name',
  TaskAttempt: 'troupe.task.attempt',
  TaskRunner: 'troupe.task.runner',
  ErrorCode: 'troupe.error.code',
} as const;

/**
 * Span names, `{operation} {destination}` as the messaging conventions ask: the destination is the actor type
 * when known (low cardinality), else the address; for tasks, the task's name.
 */
export const SpanName = {
  ask: (destination: string): string => `ask ${destination}`,
  send: (destination: string): string => `send ${destination}`,
  process: (actorType: string): string => `process ${actorType}`,
  spawn: (actorType: string): string => `spawn ${actorType}`,
  activate: (actorType: string): string => `activate ${actorType}`,
  ack: (actorType: string): string => `ack ${actorType}`,
  enqueue: (task: string): string => `send ${task}`,
  run: (task: string): string => `process ${task}`,
} as const;

/** The name troupe's tracer goes by (the instrumentation scope). */
export const TRACER_NAME = 'troupe';
