// A graph's runs as their logs hold them: a run read back into a view by replaying its records, and each new
// record appended, then folded into the live view the same way a replay would.

import type { AppendLog } from '../../runtime/index.js';
import type { CompiledGraph } from '../graph/compiled.js';
import { WorkflowError, WorkflowErrorCode } from '../graph/errors.js';
import { type RunContext, runIdOf } from './protocol.js';
import { type RunRecord, runKey } from './records.js';
import { parseRecord, RunView } from './view.js';

/** @internal The logs of graph `graph`'s runs, one key per run. */
export class RunLog {
  constructor(
    readonly graph: string,
    readonly compiled: CompiledGraph<unknown>,
    readonly log: AppendLog,
  ) {}

  /** Replays run `runId` from its log; undefined when it never started. `keepStates`: for time travel. */
  async read(runId: string, keepStates = false): Promise<RunView | undefined> {
    const records = await this.log.read(runKey(this.graph, runId));
    if (records.length === 0) return undefined;
    const first = parseRecord((records[0] as { data: string }).data);
    if (first.k !== 'start')
      throw new WorkflowError(WorkflowErrorCode.Invalid, `run ${runId}: its log does not begin with a start`);
    if (first.graph !== this.graph)
      throw new WorkflowError(WorkflowErrorCode.RunState, `run ${runId} belongs to graph ${first.graph}`);
    const view = new RunView(this.compiled, first, keepStates);
    for (const r of records.slice(1)) view.fold(parseRecord(r.data));
    return view;
  }

  /** The actor's run, replayed once and kept in its state until an outage drops it. */
  async load<S>(ctx: RunContext<S>): Promise<RunView | undefined> {
    ctx.state.view ??= await this.read(runIdOf(ctx));
    return ctx.state.view;
  }

  /** Appends a run's first record and returns the view it starts. */
  async start(runId: string, record: Extract<RunRecord, { k: 'start' }>): Promise<RunView> {
    await this.log.append(runKey(this.graph, runId), JSON.stringify(record));
    return new RunView(this.compiled, record, false);
  }

  /** Appends one record of the actor's run, then folds it into `view`: the view never runs ahead of the log. */
  async write<S>(ctx: RunContext<S>, view: RunView, record: RunRecord): Promise<void> {
    await this.log.append(runKey(this.graph, runIdOf(ctx)), JSON.stringify(record));
    view.fold(record);
  }
}
