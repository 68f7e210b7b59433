// A run's records folded into what it is now: status, state, cursor, the current step's finished nodes, pending
// interrupts and the checkpoints time travel forks from. Pure: run-log.ts folds each record it appends alike.

import type { CompiledGraph } from '../graph/compiled.js';
import type { Cursor, NodeOutcome } from '../graph/cursor.js';
import { WorkflowError, WorkflowErrorCode } from '../graph/errors.js';
import type { RunFailure, RunRecord } from './records.js';

export type RunStatusName = 'running' | 'interrupted' | 'done' | 'failed' | 'cancelled';

/** A step boundary a run can be forked from. */
export interface Checkpoint {
  /** Steps done at this point (0: before the first). */
  readonly step: number;
  /** The nodes that ran in that step. */
  readonly ran: readonly string[];
  /** The nodes the next step runs ([] at the end). */
  readonly next: readonly string[];
  /** Epoch ms. */
  readonly at: number;
}

type Bag = Record<string, unknown>;

export class RunView {
  status: RunStatusName = 'running';
  state: Bag;
  cursor: Cursor;
  readonly graph: string;
  readonly from: { runId: string; step: number } | undefined;
  /** Outcomes of the current step's finished nodes (step `cursor.step + 1`). */
  outcomes = new Map<string, NodeOutcome>();
  /** Pending interrupts of the current step, by node. */
  interrupts = new Map<string, unknown>();
  /** Values given to interrupted nodes of the current step, by node. */
  resumes = new Map<string, unknown>();
  error: RunFailure | undefined;
  readonly checkpoints: Checkpoint[] = [];
  /** State at each checkpoint, kept only when asked for (time travel reads it; a live run does not need it). */
  readonly states: Bag[] | undefined;
  /** The cursor at each checkpoint, kept with the states (a fork starts from one). */
  readonly cursors: Cursor[] | undefined;
  /** Records folded (the log's record count for this run). */
  records = 0;

  constructor(
    readonly compiled: CompiledGraph<unknown>,
    start: Extract<RunRecord, { k: 'start' }>,
    keepStates: boolean,
  ) {
    this.graph = start.graph;
    this.from = start.from;
    this.state =
      start.state !== undefined ? structuredClone(start.state) : compiled.initial(start.input as Bag);
    this.cursor = structuredClone(start.cursor);
    this.states = keepStates ? [structuredClone(this.state)] : undefined;
    this.cursors = keepStates ? [structuredClone(this.cursor)] : undefined;
    this.checkpoints.push({ step: this.cursor.step, ran: [], next: [...this.cursor.active], at: start.at });
    this.records = 1;
    if (this.cursor.active.length === 0) this.status = 'done';
  }

  /** Folds one record written after the start. */
  fold(record: RunRecord): void {
    this.records++;
    const current = this.cursor.step + 1;
    switch (record.k) {
      case 'node':
        if (record.step === current)
          this.outcomes.set(record.node, {
            updates: record.updates as Bag[],
            ...(record.error === undefined ? {} : { error: record.error }),
          });
        return;
      case 'interrupt':
        if (record.step === current) {
          this.interrupts.set(record.node, record.payload);
          this.status = 'interrupted';
        }
        return;
      case 'resume':
        if (record.step === current) {
          this.interrupts.delete(record.node);
          this.resumes.set(record.node, record.value);
          if (this.interrupts.size === 0 && this.status === 'interrupted') this.status = 'running';
        }
        return;
      case 'step': {
        if (record.step !== current) return;
        for (const n of record.nodes ?? [])
          this.outcomes.set(n.node, {
            updates: n.updates as Bag[],
            ...(n.error === undefined ? {} : { error: n.error }),
          });
        const ran = this.cursor.active;
        for (const name of ran)
          for (const update of this.outcomes.get(name)?.updates ?? [])
            this.compiled.apply(this.state, update, name);
        this.cursor = { ...structuredClone(record.cursor), ran: [...new Set([...this.cursor.ran, ...ran])] };
        this.outcomes = new Map();
        this.interrupts = new Map();
        this.resumes = new Map();
        this.checkpoints.push({
          step: this.cursor.step,
          ran: [...ran],
          next: [...this.cursor.active],
          at: record.at,
        });
        this.states?.push(structuredClone(this.state));
        this.cursors?.push(structuredClone(this.cursor));
        return;
      }
      case 'end':
        this.status = 'done';
        return;
      case 'fail':
        this.status = 'failed';
        this.error = record.error;
        return;
      case 'cancel':
        this.status = 'cancelled';
        return;
      case 'start':
        throw new WorkflowError(WorkflowErrorCode.Invalid, 'a run log holds a second start record');
    }
  }
}

/** Parses one stored record; throws GRAPH_INVALID for what this code never wrote. */
export function parseRecord(data: string): RunRecord {
  let record: unknown;
  try {
    record = JSON.parse(data);
  } catch (cause) {
    throw new WorkflowError(WorkflowErrorCode.Invalid, 'a run log record is not JSON', { cause });
  }
  if (typeof record !== 'object' || record === null || typeof (record as { k?: unknown }).k !== 'string')
    throw new WorkflowError(WorkflowErrorCode.Invalid, 'a run log record has no kind');
  return record as RunRecord;
}
