// A cell's children and its supervisor: the handle a supervisor controls a child by, the children view its
// hooks see, and the notices (a child failed, a child exited) that reach the supervisor's loop as data.

import type { ChildHandle, Children } from '../ports/supervision.js';
import type { CellState, ChildNotice } from './state.js';

/** @internal This cell as its supervisor controls it; made once per cell. */
export function handleOf(cell: CellState): ChildHandle {
  cell.handleView ??= {
    name: cell.name,
    get ref() {
      return cell.ref;
    },
    get status() {
      return cell.status;
    },
    get restarts() {
      return cell.restarts;
    },
    restart: (delayMs, reason) => cell.restart(delayMs, reason),
    // The `resume` directive: the failed child goes on with its state.
    resume: () => continueAfterFailure(cell),
    stop: () => cell.requestStop(),
    terminate: () => cell.terminate(),
  };
  return cell.handleView;
}

/** @internal The live children of `cell`, as its supervisor hooks see them; made once per cell. */
export function childrenOf(cell: CellState): Children {
  if (cell.childrenView !== undefined) return cell.childrenView;
  cell.childMap ??= new Map();
  const children = cell.childMap;
  cell.childrenView = {
    get: (name) => children.get(name)?.handle,
    list: () => [...children.values()].map((c) => c.handle),
  };
  return cell.childrenView;
}

/** @internal Lets a failed actor that awaits its supervisor's decision go on with its state. */
export function continueAfterFailure(cell: CellState): void {
  if (!cell.awaitingDecision || cell.status !== 'restarting') return;
  cell.awaitingDecision = false;
  cell.status = cell.paused ? 'paused' : 'running';
  if (!cell.busy && (cell.mailbox.length > 0 || cell.notices.length > 0)) cell.schedule(false);
}

/** @internal True when `cell`'s parent supervises it (its failures and exits go to the parent's loop). */
export function underSupervisor(cell: CellState): cell is CellState & { parent: CellState } {
  return cell.parent !== undefined && cell.parent.config.hooks !== undefined;
}

/**
 * @internal Queues a notice for a supervisor's own loop; it is processed between messages, also while paused.
 *
 * With `now`, the caller runs outside every loop's turn (a child's own turn, or a callback): a supervisor with
 * nothing else queued and no turn of its own coming has its notice processed at once, as its next turn would
 * have done first thing, without a turn's scheduling and start (a crash costs a few µs, this is a good part).
 */
export function notify(supervisor: CellState, notice: ChildNotice, now = false): void {
  if (supervisor.status === 'stopped' || supervisor.status === 'stopping') return;
  supervisor.notices.push(notice);
  if (supervisor.busy || (supervisor.status !== 'running' && supervisor.status !== 'paused')) return;
  if (!now || supervisor.scheduled || supervisor.stopRequested || supervisor.notices.length > 1) {
    supervisor.schedule(false);
    return;
  }
  processNotices(supervisor);
  // Whatever is left (notices after one that stopped the supervisor's work, a stop it asked for) is its
  // loop's, as it would have been.
  if (supervisor.notices.length !== 0 || supervisor.stopRequested) supervisor.schedule(false);
}

/** @internal Hands queued notices to the supervisor hooks, one at a time, until the cell is not running. */
export function processNotices(cell: CellState): void {
  const hooks = cell.config.hooks;
  const notices = cell.notices;
  for (let notice = notices.shift(); notice !== undefined; notice = notices.shift()) {
    if (hooks === undefined) continue;
    let restart: ((found: boolean) => void) | undefined;
    try {
      if (notice.kind === 'failed') hooks.childFailed(notice.failure, cell.ctx, childrenOf(cell));
      else if (notice.kind === 'exited') hooks.childExited(notice.exit, cell.ctx, childrenOf(cell));
      else {
        restart = notice.done;
        restart(hooks.restartChild?.(notice.name, cell.ctx, childrenOf(cell)) === true);
      }
    } catch (err) {
      restart?.(false);
      // A supervisor that cannot cope (intensity exceeded, an escalation) fails in turn.
      cell.fail(err, undefined, 'supervision');
      return;
    }
    if (cell.status !== 'running' && cell.status !== 'paused') return;
  }
}

/**
 * @internal Asks supervisor `cell` to bring child `name` back (its `restartChild` hook, run in its own loop):
 * resolves true when it knew the child, false when it has no such child or no such hook.
 */
export function requestChildRestart(cell: CellState, name: string): Promise<boolean> {
  if (
    cell.config.hooks?.restartChild === undefined ||
    (cell.status !== 'running' && cell.status !== 'paused')
  )
    return Promise.resolve(false);
  return new Promise((done) => notify(cell, { kind: 'restart', name, done }));
}

/** @internal Stops the children (through the `stopChildren` hook if any) and waits until all are down. */
export async function stopChildren(cell: CellState): Promise<void> {
  const children = cell.childMap;
  if (children === undefined || children.size === 0) return;
  const hooks = cell.config.hooks;
  if (hooks?.stopChildren !== undefined && !cell.terminated) {
    try {
      await hooks.stopChildren(cell.ctx, childrenOf(cell));
    } catch (err) {
      cell.host.failed(cell, err, undefined, 'stop');
    }
  }
  await Promise.all(
    [...children.values()].map((child) => (cell.terminated ? child.terminate() : child.requestStop())),
  );
}
