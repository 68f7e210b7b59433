// `troupe approve <agent> <runId> <callId>`: approve (or reject) a tool call an agent's run waits on, by asking
// the agent actor with its `approve` message, and print the agent's acknowledgement.

import { invocation, millis, printJson, UsageError } from './args.js';
import { cliNode } from './connect.js';
import { ACTOR_HELP, resolveAddress } from './control.js';

const USAGE = `Usage: troupe approve <agent> <runId> <callId> [--reject] [--reason R] [--by NAME] [--timeout MS]
                     [--nats URL] [--namespace NS] [--json]

Approves the tool call <callId> that run <runId> of agent <agent> waits on (a tool defined with needsApproval),
or rejects it with --reject: the agent is asked { type: 'approve', runId, callId, approved, by, reason } and
its acknowledgement printed. An approved call runs; a rejected one goes back to the model as refused. The run
then goes on. The ids are in the agent's 'approval' events and in its status (troupe ask <agent>
'{"type":"status"}'). Fails with exit code 1 and the agent's code when the call is not waiting
(AGENT_APPROVAL_NOT_PENDING) or the run is unknown (AGENT_UNKNOWN_RUN).

${ACTOR_HELP}
Options:
  --reject                 reject the call instead of approving it
  --reason R               why (journaled with the decision)
  --by NAME                who decides (default: $USER, else cli)
  --timeout MS             how long to wait for the agent's answer (default 5000)
`;

/** Runs `troupe approve`; resolves with the exit code. */
export async function main(argv: string[]): Promise<number> {
  const inv = await invocation(
    argv,
    {
      reject: { type: 'boolean' },
      reason: { type: 'string' },
      by: { type: 'string' },
      timeout: { type: 'string' },
    },
    USAGE,
  );
  if (typeof inv === 'number') return inv;
  const [agent, runId, callId, ...extra] = inv.positionals;
  if (agent === undefined || runId === undefined || callId === undefined || extra.length > 0)
    throw new UsageError('expected <agent> <runId> <callId>');
  const timeoutMs = millis(inv.values.timeout, '--timeout', 5000);
  const approved = inv.values.reject !== true;
  const by = typeof inv.values.by === 'string' ? inv.values.by : process.env.USER || 'cli';
  const reason = inv.values.reason;
  const message = {
    type: 'approve' as const,
    runId,
    callId,
    approved,
    by,
    ...(typeof reason === 'string' ? { reason } : {}),
  };
  const system = await cliNode(inv.config, inv.logger);
  try {
    const address = await resolveAddress(system, agent, timeoutMs);
    const reply: unknown = await system.ref(address).ask(message, { timeout: timeoutMs });
    if (inv.json) printJson({ ok: true, address, reply: reply ?? null });
    else
      process.stdout.write(
        `${approved ? 'approved' : 'rejected'} call ${callId} of run ${runId} on ${address}` +
          `${reply === undefined || reply === null ? '' : `: ${JSON.stringify(reply)}`}\n`,
      );
    return 0;
  } finally {
    await system.drain();
  }
}
