// `troupe config`: the resolved configuration, and where each value came from.

import { invocation, printJson, table } from './args.js';
import { CONFIG_KEYS, envVariable, shownValue } from './config.js';

const USAGE = `Usage: troupe config [--config FILE] [--json] [any common option]

Prints the configuration commands would use, and where each value came from: a flag, an environment
variable (NATS_URL, REDIS_URL, TROUPE_NAMESPACE, TROUPE_LOG_LEVEL, TROUPE_LOG_FORMAT, TROUPE_METRICS_PORT,
NATS_USER, NATS_PASS, NATS_TOKEN, NATS_NKEY_SEED_FILE, NATS_CREDS, NATS_TLS_CA, NATS_TLS_CERT, NATS_TLS_KEY),
the config file (--config FILE, else ./troupe.config.json, ./troupe.config.mjs or ./troupe.config.js, whose
default export is the object), or the default. Flags win over the environment, which wins over the file.
Secrets (natsPass, natsToken) are shown as ***.

A config file holds any of: ${CONFIG_KEYS.join(', ')}. For example:
  { "nats": "nats://10.0.0.5:4222", "namespace": "prod", "logLevel": "info" }
`;

/** Runs `troupe config`; resolves with the exit code. */
export async function main(argv: string[]): Promise<number> {
  const inv = await invocation(
    argv,
    { prefix: { type: 'string' }, 'metrics-port': { type: 'string' } },
    USAGE,
  );
  if (typeof inv === 'number') return inv;
  const { values, sources, file } = inv.config;
  if (inv.json) {
    printJson({
      file: file ?? null,
      values: Object.fromEntries(CONFIG_KEYS.map((key) => [key, shownValue(key, values[key]) ?? null])),
      sources,
    });
    return 0;
  }
  process.stdout.write(`config file: ${file ?? 'none'}\n`);
  process.stdout.write(
    table(
      ['KEY', 'VALUE', 'SOURCE', 'ENV'],
      CONFIG_KEYS.map((key) => [
        key,
        values[key] === undefined ? '-' : String(shownValue(key, values[key])),
        sources[key].kind === 'default' || sources[key].kind === sources[key].from
          ? sources[key].from
          : `${sources[key].kind} ${sources[key].from}`,
        envVariable(key) ?? '-',
      ]),
    ),
  );
  return 0;
}
