// The JSON schemas of the gateway's routes: fastify validates requests against them (400 otherwise) and
// @fastify/swagger turns them into the OpenAPI document.

const id = { type: 'string', minLength: 1, maxLength: 512 } as const;
const runId = { type: 'string', minLength: 1, maxLength: 128, pattern: '^[-_.:a-zA-Z0-9]+$' } as const;
const name = { type: 'string', minLength: 1, maxLength: 64, pattern: '^[-_a-zA-Z0-9]+$' } as const;

export const ok = { type: 'object', properties: { ok: { type: 'boolean' } }, required: ['ok'] } as const;

export const agentParams = {
  type: 'object',
  properties: { id: { ...id, description: 'the agent address, URL-encoded ($v/<type>/<id> or node/path)' } },
  required: ['id'],
} as const;

export const runParams = {
  type: 'object',
  properties: { id, runId },
  required: ['id', 'runId'],
} as const;

export const graphRunParams = {
  type: 'object',
  properties: { name, runId },
  required: ['name', 'runId'],
} as const;

export const topicParams = {
  type: 'object',
  properties: {
    topic: { type: 'string', minLength: 1, maxLength: 128, pattern: '^[-_a-zA-Z0-9]+(\\.[-_a-zA-Z0-9]+)*$' },
  },
  required: ['topic'],
} as const;

const chatMessage = {
  type: 'object',
  properties: { role: { type: 'string', enum: ['system', 'user', 'assistant', 'tool'] }, content: {} },
  required: ['role'],
} as const;

export const runBody = {
  type: 'object',
  properties: {
    input: {
      anyOf: [
        { type: 'string', minLength: 1, maxLength: 100_000 },
        { type: 'array', minItems: 1, maxItems: 500, items: chatMessage },
      ],
    },
    runId,
  },
  required: ['input'],
  additionalProperties: false,
} as const;

export const agentConfig = {
  type: 'object',
  properties: {
    model: { type: 'string', minLength: 1, maxLength: 200 },
    temperature: { type: 'number', minimum: 0, maximum: 2 },
    instructions: { type: 'string', maxLength: 100_000 },
  },
  minProperties: 1,
  additionalProperties: false,
} as const;

export const eventsQuery = {
  type: 'object',
  properties: { from: { type: 'integer', minimum: 0, description: 'resume after this event id' } },
  additionalProperties: false,
} as const;

export const eventsHeaders = {
  type: 'object',
  properties: { 'last-event-id': { type: 'string', pattern: '^\\d{1,15}$' } },
} as const;

export const customGraph = {
  type: 'object',
  properties: {
    name,
    definition: {
      type: 'object',
      properties: {
        state: { type: 'object' },
        nodes: { type: 'array', minItems: 1, maxItems: 200, items: { type: 'object' } },
        edges: { type: 'array', items: { type: 'object' } },
        conditionalEdges: { type: 'array', items: { type: 'object' } },
      },
      required: ['state', 'nodes'],
    },
    input: { type: 'object' },
    runId,
  },
  required: ['name', 'definition'],
  additionalProperties: false,
} as const;

export const resumeBody = {
  type: 'object',
  properties: { value: {}, node: { type: 'string', minLength: 1, maxLength: 200 } },
  required: ['value'],
  additionalProperties: false,
} as const;

export const actorMessage = {
  type: 'object',
  properties: {
    to: id,
    message: {
      type: 'object',
      properties: { type: { type: 'string', minLength: 1, maxLength: 200 } },
      required: ['type'],
    },
    timeoutMs: { type: 'integer', minimum: 1, maximum: 600_000 },
  },
  required: ['to', 'message'],
  additionalProperties: false,
} as const;

export const waitQuery = {
  type: 'object',
  properties: { waitMs: { type: 'integer', minimum: 1, maximum: 30_000 } },
  additionalProperties: false,
} as const;

export const webhookBody = { type: ['object', 'array'] } as const;

export const webhookHeaders = {
  type: 'object',
  properties: { 'x-event-id': { type: 'string', minLength: 1, maxLength: 200 } },
} as const;
