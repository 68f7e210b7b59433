// Checks the architecture: one-way dependencies between top folders, index-only imports across them, each
// third-party client package only in its adapter folder, and no import cycles. Exits 1 with a list of violations.
import { readdirSync, readFileSync, statSync } from 'node:fs';
import { builtinModules } from 'node:module';
import { dirname, join, relative, resolve } from 'node:path';

const root = resolve(dirname(new URL(import.meta.url).pathname), '..');

/**
 * One row per folder: the top folders it may import (besides itself) and the third-party packages it may use.
 * Dependencies point down: cli -> load -> bench -> gateway -> workflows -> agents -> memory/models -> actors/supervisor
 * -> runtime <- the adapters (transport, tasks-bullmq, telemetry). A subfolder row (memory/redis) only narrows
 * packages: its files follow their top folder's imports, and the longest matching row decides their packages.
 * `internal: true` may also import runtime/internal.ts, the adapter entry. Folders that do not exist yet are rules
 * laid down ahead of their code. `packages: '*'`: any package (bench baselines, chaos's forged frames).
 */
const LAYERS = {
  runtime: { imports: [], packages: [] },
  transport: { imports: ['runtime'], packages: ['@nats-io/*', 'msgpackr'], internal: true },
  'tasks-bullmq': { imports: ['runtime'], packages: ['bullmq', 'ioredis'], internal: true },
  telemetry: { imports: ['runtime'], packages: ['@opentelemetry/api'], internal: true },
  // The one place that picks an OpenTelemetry SDK: the Prometheus endpoint `troupe node --metrics-port` serves.
  'telemetry/sdk': {
    packages: [
      '@opentelemetry/api',
      '@opentelemetry/sdk-metrics',
      '@opentelemetry/exporter-prometheus',
      '@opentelemetry/resources',
    ],
  },
  // supervisor/, actors/ and cli/ are troupe's own layers over the engine: they may use its adapter entry.
  supervisor: { imports: ['runtime'], packages: [], internal: true },
  actors: { imports: ['runtime', 'supervisor'], packages: [], internal: true },
  models: { imports: ['runtime', 'supervisor', 'actors', 'telemetry'], packages: ['openai'] },
  // memory embeds through the models layer (OpenAI-compatible embeddings) and sits under agents.
  memory: {
    imports: ['runtime', 'supervisor', 'actors', 'telemetry', 'models'],
    packages: [],
    internal: true,
  },
  'memory/redis': { packages: ['ioredis'] },
  'memory/chroma': { packages: ['chromadb'] },
  'memory/postgres': { packages: ['pg'] },
  // zod: tool input schemas, and the JSON Schema the model sees derived from them (z.toJSONSchema).
  agents: {
    imports: ['runtime', 'supervisor', 'actors', 'models', 'memory', 'telemetry'],
    packages: ['zod'],
    internal: true,
  },
  // Adapters to other agent frameworks; their packages are optional peer dependencies, loaded only through
  // the troupe/interop/langchain entry.
  interop: {
    imports: ['runtime', 'supervisor', 'actors', 'models', 'agents', 'telemetry'],
    packages: ['@langchain/core', '@langchain/langgraph'],
  },
  workflows: {
    imports: ['runtime', 'supervisor', 'actors', 'models', 'memory', 'telemetry', 'agents'],
    packages: [],
  },
  // fastify: the HTTP framework (route schemas validate every request and feed the OpenAPI document through
  // @fastify/swagger); jose: API tokens (JWT) with scopes.
  gateway: {
    imports: ['runtime', 'supervisor', 'actors', 'models', 'memory', 'telemetry', 'agents', 'workflows'],
    packages: ['fastify', '@fastify/swagger', 'jose'],
  },
  // The load generator reuses the bench's histograms, charts and report pages; the bench measures it from outside
  // (it runs `troupe load run` as a process), so bench never imports load.
  load: {
    imports: [
      ...['runtime', 'transport', 'tasks-bullmq', 'telemetry', 'supervisor', 'actors'],
      ...['models', 'memory', 'agents', 'workflows', 'testing', 'bench'],
    ],
    packages: [],
    internal: true,
  },
  // undici: the HTTP target's connection pools (the client Node's own fetch is built on, without fetch's overhead).
  'load/targets': { packages: ['undici'] },
  testing: { imports: [], packages: [] },
  cli: {
    imports: [
      ...['runtime', 'transport', 'tasks-bullmq', 'telemetry', 'supervisor', 'actors', 'models', 'memory'],
      ...['agents', 'workflows', 'gateway', 'load', 'testing', 'bench'],
    ],
    packages: [],
    internal: true,
  },
  // zod: the schemas of the demo agents' tools (`troupe demo`).
  'cli/demo': { packages: ['zod'] },
  bench: {
    imports: [
      ...['runtime', 'transport', 'tasks-bullmq', 'telemetry', 'supervisor', 'actors', 'models', 'memory'],
      // The gateway is measured too (time to first token through it); it never imports bench.
      ...['agents', 'workflows', 'gateway', 'testing'],
    ],
    packages: '*',
    internal: true,
  },
  chaos: {
    imports: ['runtime', 'transport', 'tasks-bullmq', 'supervisor', 'actors', 'testing'],
    packages: '*',
    internal: true,
  },
};

const TOP = Object.keys(LAYERS).filter((name) => !name.includes('/'));
for (const [name, rule] of Object.entries(LAYERS)) {
  for (const target of rule.imports ?? []) {
    if (!TOP.includes(target)) throw new Error(`check-layers: ${name} lists unknown folder ${target}`);
  }
}

/** The longest row whose folder contains `rel` (memory/redis/x.ts -> memory/redis, then memory). */
function rowOf(rel) {
  let best;
  for (const name of Object.keys(LAYERS)) {
    if (rel.startsWith(`${name}/`) && (best === undefined || name.length > best.length)) best = name;
  }
  return best;
}

/** `@scope/name/sub` -> `@scope/name`, `name/sub` -> `name`. */
function packageOf(spec) {
  const parts = spec.split('/');
  return spec.startsWith('@') ? parts.slice(0, 2).join('/') : parts[0];
}

function allows(packages, pkg) {
  if (packages === '*') return true;
  return packages.some((p) => (p.endsWith('/*') ? pkg.startsWith(p.slice(0, -1)) : p === pkg));
}

/** The folders whose row names `pkg`, for the error message. */
function homesOf(pkg) {
  return Object.entries(LAYERS)
    .filter(([, rule]) => rule.packages !== '*' && allows(rule.packages, pkg))
    .map(([name]) => `${name}/`);
}

const BUILTINS = new Set(builtinModules);

function files(dir) {
  const out = [];
  for (const name of readdirSync(dir)) {
    const path = join(dir, name);
    if (statSync(path).isDirectory()) out.push(...files(path));
    else if (path.endsWith('.ts') && !path.endsWith('.d.ts')) out.push(path);
  }
  return out;
}

const problems = [];
const graph = new Map();
const all = TOP.flatMap((layer) => {
  try {
    return files(join(root, layer));
  } catch {
    return [];
  }
});
// Between `import`/`export` and `from` only names, braces, commas and `*` may stand, so prose in a comment that
// happens to say "from 'x'" is not taken for an import.
const importRe =
  /(?:^|\n)\s*(?:import|export)\s[\w$*{},\s]*?from\s*['"]([^'"]+)['"]|(?:^|\n)\s*import\s*['"]([^'"]+)['"]|import\(\s*['"]([^'"]+)['"]\s*\)/g;

for (const file of all) {
  const rel = relative(root, file);
  const layer = rel.split('/')[0];
  const rule = LAYERS[layer];
  const packages = LAYERS[rowOf(rel)].packages ?? rule.packages;
  const text = readFileSync(file, 'utf8');
  const edges = [];
  for (const m of text.matchAll(importRe)) {
    const spec = m[1] ?? m[2] ?? m[3];
    if (spec.startsWith('.')) {
      const target = resolve(dirname(file), spec).replace(/\.js$/, '.ts');
      const targetRel = relative(root, target);
      const targetLayer = targetRel.split('/')[0];
      edges.push(target);
      if (targetLayer === layer) continue;
      if (!rule.imports.includes(targetLayer)) {
        problems.push(`${rel}: ${layer}/ must not import ${targetLayer}/ (${spec})`);
      } else if (targetRel === 'runtime/internal.ts') {
        if (!rule.internal)
          problems.push(`${rel}: runtime/internal.ts is for adapters; import runtime/index.ts`);
      } else if (!/^[a-z-]+(\/sdk)?\/index\.ts$/.test(targetRel) && !targetRel.startsWith('bench/cli')) {
        problems.push(`${rel}: import ${targetLayer}/ through its index.ts, not ${spec}`);
      }
    } else if (!spec.startsWith('node:') && !BUILTINS.has(spec)) {
      const pkg = packageOf(spec);
      if (!allows(packages, pkg)) {
        const homes = homesOf(pkg);
        const where = homes.length > 0 ? `only ${homes.join(', ')} may import it` : 'no folder lists it';
        problems.push(`${rel}: ${rowOf(rel)}/ must not import the package ${spec} (${where})`);
      }
    }
  }
  graph.set(file, edges);
}

// Cycles: depth-first search with colours; report each cycle once.
const colour = new Map();
const stack = [];
function visit(node) {
  colour.set(node, 'grey');
  stack.push(node);
  for (const next of graph.get(node) ?? []) {
    if (!graph.has(next)) continue;
    if (colour.get(next) === 'grey') {
      const cycle = stack.slice(stack.indexOf(next)).map((f) => relative(root, f));
      problems.push(`import cycle: ${[...cycle, relative(root, next)].join(' -> ')}`);
    } else if (!colour.has(next)) visit(next);
  }
  stack.pop();
  colour.set(node, 'black');
}
for (const node of graph.keys()) if (!colour.has(node)) visit(node);

if (problems.length > 0) {
  process.stderr.write(`layer check failed:\n${problems.map((p) => `  ${p}`).join('\n')}\n`);
  process.exit(1);
}
process.stdout.write(`layer check: ${all.length} files, dependencies one-way, no cycles\n`);
