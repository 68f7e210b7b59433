// The signal a node raises when it asks for input: not a failure, the durable run stops and waits for a value.

/** @internal The interrupt a node raised: not a failure, the run waits for a value. */
export class GraphInterrupt extends Error {
  constructor(
    readonly node: string,
    readonly payload: unknown,
  ) {
    super(`node "${node}" is waiting for input`);
  }
}
