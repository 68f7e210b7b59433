// How tool outcomes and repair requests read to the model, and the assistant message shape the loop keeps.
// Deterministic: the same outcome renders to the same text, so a resumed run sends byte-identical requests.

import { formatOutcome } from '../tools/outcome.js';
import type { ToolOutcome } from './ports.js';

/** The tool message content for an outcome: the tool layer's rendering (value, or `Error CODE: message`). */
export function renderOutcome(outcome: ToolOutcome): string {
  return formatOutcome(outcome as Parameters<typeof formatOutcome>[0]);
}

/** The user message that sends invalid structured output back for repair. */
export function outputRepairMessage(issues: string): string {
  return `Your answer did not match the required JSON schema: ${issues}. Answer again with JSON that matches it.`;
}
