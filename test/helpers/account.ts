// Test fixture: the bank-account actor the cluster and placement tests register as a virtual type.

import { defineActor, type Reply } from '../../runtime/index.js';

export type Account = { deposit: { amount: number }; balance: Reply<number> };

/** Deposits add up; `balance` answers the sum (its state says which activation handled what). */
export const account = defineActor<Account, { balance: number }>({
  type: 'account',
  init: () => ({ balance: 0 }),
  handlers: {
    deposit: (m, ctx) => {
      ctx.state.balance += m.amount;
    },
    balance: (_m, ctx) => ctx.state.balance,
  },
});
