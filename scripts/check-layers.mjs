// Checks the architecture: one-way dependencies between top folders, index-only imports across them,
// third-party clients only in transport/, and no import cycles. Exits 1 with a list of violations.
import { readdirSync, readFileSync, statSync } from 'node:fs';
import { dirname, join, relative, resolve } from 'node:path';

const root = resolve(dirname(new URL(import.meta.url).pathname), '..');
const LAYERS = ['runtime', 'transport', 'supervisor', 'actors', 'testing', 'cli', 'bench', 'chaos'];
/** What each folder may import from (besides itself). */
const ALLOWED = {
  runtime: [],
  transport: ['runtime'],
  supervisor: ['runtime'],
  actors: ['runtime', 'supervisor'],
  testing: [],
  cli: ['runtime', 'transport', 'supervisor', 'actors', 'testing', 'bench'],
  bench: ['runtime', 'transport', 'supervisor', 'actors', 'testing'],
  chaos: ['runtime', 'transport', 'supervisor', 'actors', 'testing'],
};
/** Packages only transport/ (and bench/ baselines, tests) may import. */
const CLIENTS = [/^@nats-io\//, /^bullmq$/, /^ioredis$/, /^msgpackr$/];
// chaos/ forges frames and restarts servers with the raw clients, as bench/ runs its baselines with them.
const CLIENT_OK = new Set(['transport', 'bench', 'chaos']);

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
const all = LAYERS.flatMap((layer) => {
  try {
    return files(join(root, layer));
  } catch {
    return [];
  }
});
const importRe =
  /(?:^|\n)\s*(?:import|export)\s[^'"]*?from\s*['"]([^'"]+)['"]|import\(\s*['"]([^'"]+)['"]\s*\)/g;

for (const file of all) {
  const rel = relative(root, file);
  const layer = rel.split('/')[0];
  const text = readFileSync(file, 'utf8');
  const edges = [];
  for (const m of text.matchAll(importRe)) {
    const spec = m[1] ?? m[2];
    if (spec.startsWith('.')) {
      const target = resolve(dirname(file), spec).replace(/\.js$/, '.ts');
      const targetRel = relative(root, target);
      const targetLayer = targetRel.split('/')[0];
      edges.push(target);
      if (targetLayer !== layer) {
        if (!(ALLOWED[layer] ?? []).includes(targetLayer)) {
          problems.push(`${rel}: ${layer}/ must not import ${targetLayer}/ (${spec})`);
        } else if (!/^[a-z-]+\/index\.ts$/.test(targetRel) && !targetRel.startsWith('bench/cli')) {
          problems.push(`${rel}: import ${targetLayer}/ through its index.ts, not ${spec}`);
        }
      }
    } else if (CLIENTS.some((re) => re.test(spec)) && !CLIENT_OK.has(layer)) {
      problems.push(`${rel}: only transport/ may import ${spec}`);
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
