// Who may call a tool: an agent's allow-list of tool names and the scopes it is granted, against the scopes the
// tool requires. Both come from the registry's policy for the agent and from the call itself; each narrows.

/** An agent's permissions: which tools it may call (by name; `*` for all) and the scopes it holds. */
export interface AgentPermissions {
  /** Tool names (or `*`). Absent: no allow-list, every tool whose scopes are granted. */
  readonly tools?: readonly string[];
  /** Granted scopes; `fs:*` grants every scope starting with `fs:`, `*` every scope. */
  readonly scopes?: readonly string[];
}

/** Whether `granted` covers `scope` (exactly, or as a `prefix*` pattern). */
export function scopeGranted(granted: readonly string[], scope: string): boolean {
  for (const g of granted) {
    if (g === scope || g === '*') return true;
    if (g.endsWith('*') && scope.startsWith(g.slice(0, -1))) return true;
  }
  return false;
}

/** Why `agent` may not call `tool`, or undefined when it may. */
export function refusal(
  agent: string,
  tool: { readonly name: string; readonly permissions: readonly string[] },
  allowLists: readonly (readonly string[] | undefined)[],
  scopes: readonly string[],
): string | undefined {
  for (const list of allowLists) {
    if (list !== undefined && !list.includes(tool.name) && !list.includes('*'))
      return `agent ${agent} may not call tool ${tool.name}: it is not in the agent's allow-list`;
  }
  const missing = tool.permissions.filter((scope) => !scopeGranted(scopes, scope));
  if (missing.length > 0)
    return `agent ${agent} may not call tool ${tool.name}: it needs ${missing.join(', ')}, not granted`;
  return undefined;
}
