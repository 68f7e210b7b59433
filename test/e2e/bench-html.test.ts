// The HTML benchmark report opened in headless Chromium: it renders, runs its inline script, and names every scenario.

import { execFile } from 'node:child_process';
import { existsSync, mkdtempSync, rmSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { pathToFileURL } from 'node:url';
import { promisify } from 'node:util';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { Histogram } from '../../bench/histogram.js';
import { renderHtml } from '../../bench/html.js';
import {
  type BenchReport,
  machineInfo,
  REPORT_SCHEMA_VERSION,
  summarizeLatency,
  summarizeMetrics,
} from '../../bench/report.js';
import { SCENARIOS } from '../../bench/scenarios/index.js';

const run = promisify(execFile);
const CHROMIUM = '/usr/bin/chromium';
const settings = { quick: true, count: null, clients: [1, 2], nodes: [1], nats: null, redis: null } as const;

/** A report with every registered scenario and made-up figures (the page is under test, not the numbers). */
function fullReport(): BenchReport {
  return {
    schemaVersion: REPORT_SCHEMA_VERSION,
    tool: 'troupe-bench',
    date: new Date().toISOString(),
    machine: machineInfo(),
    settings: { ...settings, clients: [1, 2], nodes: [1], repeat: 3, roundMs: 1500 },
    scenarios: SCENARIOS.map((s, i) => {
      const specs = s.metrics({ quick: true, count: undefined, clients: [1, 2], nodes: [1] });
      const rounds = [1, 2, 3].map((r) => ({
        figures: Object.fromEntries(specs.map((m) => [m.id, { troupe: 100 * r + i, baseline: 150 * r }])),
        ...(s.name === 'nats-ask-latency'
          ? {
              latency: {
                troupe: hist([150_000, 210_000, 900_000]),
                baseline: hist([120_000, 160_000, 500_000]),
              },
            }
          : {}),
      }));
      return {
        name: s.name,
        description: s.description,
        durationMs: 1000,
        error: null,
        metrics: summarizeMetrics(specs, rounds),
        latency: summarizeLatency(rounds),
      };
    }),
  };
}

function hist(values: number[]): Histogram {
  const h = new Histogram();
  for (const v of values) h.record(v);
  return h;
}

let dir: string;
beforeAll(() => {
  dir = mkdtempSync(join(tmpdir(), 'troupe-bench-html-'));
});
afterAll(() => rmSync(dir, { recursive: true, force: true }));

describe('HTML report in headless Chromium', () => {
  const missing = !existsSync(CHROMIUM);
  it.skipIf(missing)(
    `renders every scenario and its charts${missing ? ' (SKIPPED: /usr/bin/chromium is not installed; apt-get install -y chromium)' : ''}`,
    async () => {
      const file = join(dir, 'report.html');
      writeFileSync(file, renderHtml(fullReport()));
      const profile = join(dir, 'profile');
      const { stdout } = await run(
        CHROMIUM,
        [
          '--headless',
          '--no-sandbox',
          '--disable-gpu',
          '--disable-dev-shm-usage',
          '--disable-background-networking',
          '--disable-component-update',
          '--disable-sync',
          '--no-first-run',
          `--user-data-dir=${profile}`,
          '--dump-dom',
          pathToFileURL(file).href,
        ],
        { timeout: 60_000, maxBuffer: 32 * 1024 * 1024 },
      );
      // The inline script ran: it stamps the root element once the page is parsed.
      expect(stdout).toMatch(/<html[^>]*data-rendered="yes"/);
      const charts = Number(/data-charts="(\d+)"/.exec(stdout)?.[1] ?? '0');
      expect(charts).toBeGreaterThanOrEqual(SCENARIOS.length);
      for (const s of SCENARIOS) expect(stdout).toContain(`data-scenario="${s.name}"`);
      expect(stdout).toContain('Latency percentiles');
      expect(stdout).toContain('Scaling with processes');
    },
  );
});
