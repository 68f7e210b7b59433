// The one table every fault-injection run prints: what was sent, what survived, and what went wrong.

/** What one chaos scenario counted. Every count is exact; none is estimated. */
export interface ChaosSummary {
  scenario: string;
  /** Messages, frames or calls the scenario sent. */
  sent: number;
  /** Of those, how many the system acknowledged (a resolved `send()`, an answered ask, an added job). */
  acknowledged: number;
  /** Acknowledged messages the receiving side handled at least once. */
  handled: number;
  /** Acknowledged but never handled (must be 0). */
  lost: number;
  /** Handled more than once (allowed for at-least-once kinds; reported, not hidden). */
  duplicated: number;
  /** Handled out of order per actor (must be 0). */
  reordered: number;
  /** Node or worker processes that died when the scenario did not kill them (must be 0). */
  nodeCrashes: number;
  /** Calls that had not settled when the scenario ended (must be 0). */
  neverSettled: number;
  /** Highest resident set size seen in the process under test, in MiB. */
  peakRssMb: number;
  /** Faults injected and anything else worth a line. */
  notes: string;
}

/** The promises a summary must keep: no loss, no reordering, no crash, every call settled. */
export function violations(summary: ChaosSummary): string[] {
  const out: string[] = [];
  if (summary.lost > 0) out.push(`${summary.lost} acknowledged messages lost`);
  if (summary.reordered > 0) out.push(`${summary.reordered} messages reordered`);
  if (summary.nodeCrashes > 0) out.push(`${summary.nodeCrashes} node crashes`);
  if (summary.neverSettled > 0) out.push(`${summary.neverSettled} calls never settled`);
  return out;
}

const COLUMNS: [keyof ChaosSummary, string][] = [
  ['scenario', 'scenario'],
  ['sent', 'sent'],
  ['acknowledged', 'acked'],
  ['handled', 'handled'],
  ['lost', 'lost'],
  ['duplicated', 'dup'],
  ['reordered', 'reordered'],
  ['nodeCrashes', 'crashes'],
  ['neverSettled', 'unsettled'],
  ['peakRssMb', 'peak RSS MiB'],
  ['notes', 'faults / notes'],
];

/** The summaries as one Markdown table. */
export function formatSummaries(summaries: ChaosSummary[]): string {
  const cell = (s: ChaosSummary, key: keyof ChaosSummary): string => {
    const v = s[key];
    return typeof v === 'number' ? (Number.isInteger(v) ? String(v) : v.toFixed(1)) : v;
  };
  const rows = [
    COLUMNS.map(([, label]) => label),
    COLUMNS.map(() => '---'),
    ...summaries.map((s) => COLUMNS.map(([key]) => cell(s, key))),
  ];
  return rows.map((r) => `| ${r.join(' | ')} |`).join('\n');
}
