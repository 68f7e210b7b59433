// How mail to a `$` address leaves the node. A virtual actor lives on whichever node owns its shard, so its mail
// goes to the shard's subject: a plain tell joins the tell batch there, a tell to a durable type is stored in
// JetStream, and anything that must survive a failover (asks, tells in order behind retried ones) goes through
// the failover retries. A `$` address that names no virtual actor is published like any other.

import { type Envelope, parseVirtualAddress } from '../../runtime/internal.js';
import type { NatsCluster } from './cluster.js';
import type { DurableSender } from './durable-sender.js';
import { type Link, publishTo } from './link.js';
import { virtualTokens } from './subjects.js';

/**
 * @internal Sends `envelope` (encoded as `frame`) to a `$` address; `tell` is true for a user message without a
 * reply address. `cluster` is undefined until the node has joined its cluster.
 */
export function sendVirtual(
  link: Link,
  cluster: NatsCluster | undefined,
  durableSender: DurableSender,
  envelope: Envelope,
  frame: Uint8Array,
  tell: boolean,
): void {
  const target = envelope.target;
  const virtual = parseVirtualAddress(target);
  const durable = virtual !== undefined && cluster !== undefined && durableSender.isDurable(virtual.type);
  if (tell && virtual && cluster && !durable) {
    const { type, id } = virtual;
    link.batcher.add(target, frame, cluster.shards.subjectOf(type, id), virtualTokens(type, id));
    return;
  }
  // Anything sent at once must not overtake mail still waiting in a batch.
  if (link.batcher.pending) link.batcher.flush();
  if (virtual && durable) {
    // A tell to a durable actor: stored in the background.
    durableSender.tell(envelope, virtual.type, virtual.id, frame);
    return;
  }
  const replyTo = envelope.replyTo;
  if (virtual && cluster) {
    const subject = cluster.shards.subjectOf(virtual.type, virtual.id);
    if (replyTo !== undefined && envelope.correlationId !== undefined)
      link.retry.sendAsk(envelope, subject, frame, link.subjects.askStatus(replyTo, envelope.correlationId));
    else
      link.retry.sendInOrder(
        target,
        subject,
        frame,
        replyTo === undefined
          ? link.subjects.noResponders(target)
          : link.subjects.askStatus(replyTo, envelope.correlationId),
      );
    return;
  }
  publishTo(link, envelope, frame);
}
