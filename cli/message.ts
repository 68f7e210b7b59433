// `troupe ask|tell <actor> '<json>'`: send one message to an actor from the command line.

import { invocation, millis, printJson, UsageError } from './args.js';
import { cliNode } from './connect.js';
import { ACTOR_HELP, resolveAddress } from './control.js';

const usage = (command: 'ask' | 'tell'): string =>
  command === 'ask'
    ? `Usage: troupe ask <actor> '<json>' [--timeout MS] [--nats URL] [--namespace NS] [--json]

Asks <actor> with the message (a JSON object with a "type", e.g. '{"type":"get"}') and prints the reply
(as JSON). Fails with exit code 1 and the error's code (ASK_TIMEOUT, ACTOR_NOT_FOUND, UNHANDLED, …).

${ACTOR_HELP}
Options:
  --timeout MS             how long to wait for the reply (default 5000)
`
    : `Usage: troupe tell <actor> '<json>' [--nats URL] [--namespace NS] [--json]

Tells <actor> the message (a JSON object with a "type", e.g. '{"type":"add","n":2}'): fire and forget, at
most once; a message nobody handles becomes a dead letter (see troupe dead-letters).

${ACTOR_HELP}
Options:
  --timeout MS             how long nodes have to answer when <actor> is a bare path (default 5000)
`;

// biome-ignore lint/suspicious/noExplicitAny: a message typed by the user at the prompt
function parseMessage(text: string | undefined): any {
  if (text === undefined) throw new UsageError("expected a message: '<json>'");
  // biome-ignore lint/suspicious/noExplicitAny: see above
  let message: any;
  try {
    message = JSON.parse(text);
  } catch (err) {
    throw new UsageError(`the message is not JSON: ${(err as Error).message}`);
  }
  if (
    typeof message !== 'object' ||
    message === null ||
    typeof (message as { type?: unknown }).type !== 'string'
  )
    throw new UsageError('the message must be a JSON object with a string "type"');
  return message;
}

/** Runs `troupe ask` or `troupe tell`; resolves with the exit code. */
export async function main(command: 'ask' | 'tell', argv: string[]): Promise<number> {
  const inv = await invocation(argv, { timeout: { type: 'string' } }, usage(command));
  if (typeof inv === 'number') return inv;
  const [actor, text, ...extra] = inv.positionals;
  if (actor === undefined || extra.length > 0) throw new UsageError("expected <actor> '<json>'");
  const message = parseMessage(text);
  const timeoutMs = millis(inv.values.timeout, '--timeout', 5000);
  const system = await cliNode(inv.config, inv.logger);
  try {
    const address = await resolveAddress(system, actor, timeoutMs);
    const ref = system.ref(address);
    if (command === 'ask') {
      const reply: unknown = await ref.ask(message, { timeout: timeoutMs });
      if (inv.json) printJson({ ok: true, address, reply: reply ?? null });
      else process.stdout.write(`${JSON.stringify(reply ?? null, null, 2)}\n`);
    } else {
      ref.tell(message);
      if (inv.json) printJson({ ok: true, address });
      else process.stdout.write(`told ${address}\n`);
    }
    return 0;
  } finally {
    // drain, not close: a tell still in the transport's batch must go out before the process ends.
    await system.drain();
  }
}
