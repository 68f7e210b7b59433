// The live progress line of a run on stderr: rewritten in place on a terminal, one line a second otherwise.

import { formatNumber } from '../../bench/index.js';

/** What the progress line shows, once a second. */
export interface LoadProgress {
  /** Ms since the executor's t = 0. */
  elapsedMs: number;
  durationMs: number;
  vus: number;
  requests: number;
  /** Requests per second over the last second. */
  rps: number;
  /** p99 of the last second's requests (ms). */
  p99: number | null;
  errors: number;
  dropped: number;
  nodes: number;
  lostNodes: number;
}

/** The progress as one line. */
export function formatProgress(p: LoadProgress): string {
  const t = `${(Math.max(0, p.elapsedMs) / 1000).toFixed(0)}s/${(p.durationMs / 1000).toFixed(0)}s`;
  const errRate = p.requests > 0 ? ` (${((p.errors / p.requests) * 100).toFixed(2)}%)` : '';
  return [
    `load ${t}`,
    `vus ${p.vus}`,
    `req ${p.requests}`,
    `${formatNumber(p.rps)} req/s`,
    `p99 ${p.p99 === null ? '—' : `${formatNumber(p.p99)}ms`}`,
    `errors ${p.errors}${errRate}`,
    ...(p.dropped > 0 ? [`dropped ${p.dropped}`] : []),
    `nodes ${p.nodes}${p.lostNodes > 0 ? ` (${p.lostNodes} lost)` : ''}`,
  ].join(' · ');
}

/** Where the line goes: stderr, or a stand-in in tests. */
export interface ProgressStream {
  isTTY?: boolean;
  columns?: number;
  write(text: string): unknown;
}

/** Writes progress lines; `close()` ends a live line so later output starts on a fresh one. */
export interface ProgressLine {
  update(p: LoadProgress): void;
  /** A line that stays (a node lost, a warning). */
  note(text: string): void;
  close(): void;
}

export function createProgressLine(stream: ProgressStream = process.stderr): ProgressLine {
  const live = stream.isTTY === true;
  let shown = false;
  return {
    update(p) {
      const line = formatProgress(p);
      if (!live) {
        stream.write(`${line}\n`);
        return;
      }
      const width = stream.columns ?? 120;
      stream.write(`\r\x1b[K${line.length > width - 1 ? `${line.slice(0, width - 2)}…` : line}`);
      shown = true;
    },
    note(text) {
      if (live && shown) stream.write('\r\x1b[K');
      stream.write(`${text}\n`);
    },
    close() {
      if (live && shown) stream.write('\n');
      shown = false;
    },
  };
}
