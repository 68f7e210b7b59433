// Reading a load report back from a file (`--compare old.json`), refusing anything that is not one.

import { readFile } from 'node:fs/promises';
import { LoadError, LoadErrorCode } from '../errors.js';
import { LOAD_REPORT_KIND, LOAD_REPORT_SCHEMA, type LoadReport } from './report.js';

/** Checks the shape of a parsed report; throws LOAD_REPORT naming what is wrong. */
export function validateLoadReport(value: unknown, where = 'report'): LoadReport {
  const bad = (why: string): never => {
    throw new LoadError(LoadErrorCode.Report, `${where}: not a troupe load report (${why})`);
  };
  if (typeof value !== 'object' || value === null || Array.isArray(value)) bad('not a JSON object');
  const r = value as Partial<LoadReport> & Record<string, unknown>;
  if (r.kind !== LOAD_REPORT_KIND) bad(`kind is ${JSON.stringify(r.kind)}, expected "${LOAD_REPORT_KIND}"`);
  if (r.schema !== LOAD_REPORT_SCHEMA)
    bad(`schema ${JSON.stringify(r.schema)}; this troupe reads schema ${LOAD_REPORT_SCHEMA}`);
  for (const key of ['metrics', 'counters', 'histograms'] as const)
    if (typeof r[key] !== 'object' || r[key] === null) bad(`${key} missing`);
  for (const key of ['rps', 'errorRate', 'durationMs'] as const)
    if (typeof r[key] !== 'number') bad(`${key} is not a number`);
  if (!Array.isArray(r.nodes) || !Array.isArray(r.thresholds) || !Array.isArray(r.timeline))
    bad('nodes, thresholds or timeline missing');
  return r as LoadReport;
}

/** Reads and validates the report in `path`. */
export async function readLoadReport(path: string): Promise<LoadReport> {
  let text: string;
  try {
    text = await readFile(path, 'utf8');
  } catch (err) {
    throw new LoadError(LoadErrorCode.Report, `cannot read ${path}: ${(err as Error).message}`, {
      cause: err,
    });
  }
  let parsed: unknown;
  try {
    parsed = JSON.parse(text);
  } catch (err) {
    throw new LoadError(LoadErrorCode.Report, `${path} is not JSON: ${(err as Error).message}`);
  }
  return validateLoadReport(parsed, path);
}
