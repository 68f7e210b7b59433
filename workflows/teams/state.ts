// A team actor's state: its members' refs, its runs in progress and those recently ended, and the supervision
// bookkeeping of its members.

import type { AnyActorRef } from '../../runtime/index.js';
import type { TeamResult } from './protocol.js';
import type { MemberRestarts } from './restarts.js';
import type { TeamRun } from './run.js';

export interface TeamState {
  /** Each member's ref: a child's (replaced when it is spawned again) or one made from its address. */
  refs: Map<string, AnyActorRef>;
  runs: Map<string, TeamRun>;
  /** Results of runs that answered, oldest first (bounded): asking again with a runId answers the same. */
  ended: Map<string, TeamResult>;
  restarts: MemberRestarts;
}
