// Entry of a benchmark child process: plays one worker role of one scenario, driven by its parent over IPC.
//
// Run as `node dist/bench/worker.js <scenario> <role>` by forkWorker(); it exits when its parent goes away.

import { BenchError, BenchErrorCode } from './errors.js';
import type { RoleCommands } from './scenario.js';
import { findScenario } from './scenarios/index.js';
import { CLOSE_COMMAND, INIT_COMMAND, type WorkerRequest, type WorkerResponse } from './worker-client.js';

const [scenarioName = '', roleName = ''] = process.argv.slice(2);
let commands: RoleCommands | undefined;

function send(response: WorkerResponse): void {
  if (process.connected) process.send?.(response);
}

async function closeRole(): Promise<void> {
  const close = commands?.close;
  commands = undefined;
  if (close) await close(undefined);
}

async function handle(request: WorkerRequest): Promise<void> {
  try {
    let result: unknown;
    if (request.command === INIT_COMMAND) {
      const factory = findScenario(scenarioName).roles?.[roleName];
      if (!factory) {
        throw new BenchError(
          BenchErrorCode.Worker,
          `scenario ${scenarioName} has no worker role ${roleName}`,
        );
      }
      commands = await factory(request.args);
    } else if (request.command === CLOSE_COMMAND) {
      await closeRole();
      send({ id: request.id, ok: true, result: undefined });
      setImmediate(() => process.exit(0));
      return;
    } else {
      const fn = commands?.[request.command];
      if (!fn)
        throw new BenchError(BenchErrorCode.Worker, `role ${roleName} has no command ${request.command}`);
      result = await fn(request.args);
    }
    send({ id: request.id, ok: true, result });
  } catch (err) {
    send({
      id: request.id,
      ok: false,
      error: err instanceof Error ? (err.stack ?? err.message) : String(err),
    });
  }
}

if (!process.send) {
  process.stderr.write('bench worker: must be started by the benchmark runner (it needs an IPC channel)\n');
  process.exit(2);
}
process.on('message', (raw) => {
  void handle(raw as WorkerRequest);
});
// An orphaned worker must not linger: when the parent is gone, close and exit.
process.on('disconnect', () => {
  void closeRole()
    .catch(() => undefined)
    .finally(() => process.exit(0));
});
