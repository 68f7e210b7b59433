// Graphs posted as JSON definitions: built with the stock node types `set` and `template` (no code from the
// caller), registered once per name as durable graph runs on the gateway's own system.

import type { ActorSystem, AppendLog, Logger } from '../runtime/index.js';
import {
  defineGraphRun,
  type GraphDefinition,
  type GraphRegistry,
  type GraphRuns,
  graphFromJson,
  graphRuns,
  type JsonState,
  stockNodes,
} from '../workflows/index.js';
import { GatewayError, GatewayErrorCode } from './errors.js';

/** The node types a posted graph may use: the stock ones (set, template, input), never code. */
export const STOCK_NODES: GraphRegistry = { nodes: stockNodes() };

/** The graph types this gateway registered, by name, with the definition each was built from. */
export class CustomGraphs {
  readonly #defs = new Map<string, string>();
  constructor(
    readonly system: ActorSystem,
    readonly log: AppendLog,
    readonly logger: Logger,
  ) {}

  /** The runs of graph `name`, registering it first; a different definition under a known name is a conflict. */
  runs(name: string, definition: GraphDefinition): GraphRuns<JsonState> {
    const text = JSON.stringify(definition);
    const known = this.#defs.get(name);
    if (known === undefined) {
      const compiled = graphFromJson(definition, STOCK_NODES);
      this.system.register(defineGraphRun(name, compiled, { log: this.log, logger: this.logger }));
      this.#defs.set(name, text);
    } else if (known !== text) {
      throw new GatewayError(
        GatewayErrorCode.Conflict,
        `graph "${name}" is registered with another definition: use another name`,
      );
    }
    return this.client(name);
  }

  /** The runs of graph `name` wherever it is hosted (a client only asks, so the name is enough). */
  client(name: string): GraphRuns<JsonState> {
    return graphRuns<JsonState>(this.system, name);
  }
}
