// Types that let an actor's message protocol flow end to end: `tell` takes its messages, `ask` infers replies.

declare const replyBrand: unique symbol;

/**
 * Marks a message as askable and names its reply type. Intersect it into a protocol entry:
 *
 * @example
 * type CounterProtocol = {
 *   inc: { by: number };            // tell only
 *   get: Reply<number>;             // ask → number
 *   add: { by: number } & Reply<number>;
 * };
 */
export interface Reply<R> {
  // Wrapped in an object so `Reply<unknown>` and `Reply<T | undefined>` stay distinguishable from "no reply".
  readonly [replyBrand]?: { readonly reply: R };
}

/** A protocol maps each message `type` to that message's fields (plus an optional {@link Reply}). */
export type Protocol = { [type: string]: object };

/** The reply type declared for a protocol entry, or `never` when the entry is tell-only. */
export type ReplyOf<T> = typeof replyBrand extends keyof T
  ? (T extends { readonly [replyBrand]?: infer W } ? W : never) extends { readonly reply: infer R }
    ? R
    : never
  : never;

/** The message of one type: its fields plus the `type` discriminant. */
export type MessageFor<P extends Protocol, K extends keyof P & string> = Omit<P[K], typeof replyBrand> & {
  readonly type: K;
};

/** Every message an actor with protocol `P` accepts. */
export type MessageOf<P extends Protocol> = { [K in keyof P & string]: MessageFor<P, K> }[keyof P & string];

/** The messages of `P` that declare a reply, and so may be asked. */
export type AskableOf<P extends Protocol> = {
  [K in keyof P & string]: [ReplyOf<P[K]>] extends [never] ? never : MessageFor<P, K>;
}[keyof P & string];

/** The reply to message `M` under protocol `P`. */
export type ReplyFor<P extends Protocol, M extends { type: string }> = ReplyOf<P[M['type']]>;

/** The protocol of an untyped ref: anything goes, replies are `unknown`. */
export type AnyProtocol = { [type: string]: Reply<unknown> & { [field: string]: unknown } };
