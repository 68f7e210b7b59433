// Reading a durable graph run's log in tests.

/** Every node a run recorded: node records, and the nodes a step record carries (a step of one node). */
export const recordedNodes = (all: { k: string; [k: string]: unknown }[]): string[] =>
  all.flatMap((r) =>
    r.k === 'node'
      ? [r.node as string]
      : r.k === 'step'
        ? ((r.nodes as { node: string }[] | undefined) ?? []).map((n) => n.node)
        : [],
  );
