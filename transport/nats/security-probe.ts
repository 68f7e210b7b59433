// The node-id probe of a signed fleet. A binding node asks on its own `$ping` subject whether a live node
// already has its id. Unsigned, any answer means yes, so anyone on the server could keep a node from starting
// by answering for it. Signed, the probe carries a fresh nonce and only an answer signed by that node id's key
// over that nonce counts: a forged, tampered or replayed answer is ignored (and counted as a refused control
// frame). The answerer signs only a fixed text around a nonce of a fixed form, so the probe is no way to have
// a node sign bytes of someone else's choosing.

import { randomBytes } from 'node:crypto';
import {
  createInbox,
  type Msg,
  type MsgHdrs,
  type NatsConnection,
  headers as natsHeaders,
} from '@nats-io/transport-node';
import { ControlRefusalCode, type FrameSecurity } from './security.js';

/**
 * The header that carries a probe's nonce. The probe's payload stays empty: a node's subjects take empty
 * frames as requests and statuses (status.ts), and anything else as signed mail.
 */
export const PROBE_HEADER = 'Troupe-Probe';

/** A probe's nonce: 16 random bytes in lowercase hex. */
const NONCE = /^[0-9a-f]{32}$/;

const encoder = new TextEncoder();
const decoder = new TextDecoder();

/** The bytes an answer signs: the node's id and the probe's nonce. */
function answerText(nodeId: string, nonce: string): string {
  return `troupe-probe ${nodeId} ${nonce}`;
}

/**
 * The answer of node `nodeId` to a probe whose nonce header is `nonce`, signed; undefined when that is not a
 * nonce (an unsigned node's probe, or someone else's text): such a probe gets no answer.
 */
export function probeAnswer(
  security: FrameSecurity,
  nodeId: string,
  nonce: string | undefined,
): { data: Uint8Array; headers: MsgHdrs } | undefined {
  if (nonce === undefined || nonce.length !== 32 || !NONCE.test(nonce)) return undefined;
  const data = encoder.encode(answerText(nodeId, nonce));
  return { data, headers: security.headers(data) };
}

/** True when `msg` is node `nodeId`'s signed answer to the probe with `nonce`; else counted and ignored. */
export function isProbeAnswer(security: FrameSecurity, nodeId: string, msg: Msg, nonce: string): boolean {
  const signer = security.controlSigner(msg);
  if (signer === undefined) return false;
  if (signer !== nodeId) {
    security.refuseControl(
      ControlRefusalCode.WrongSigner,
      `an answer to the node-id probe of ${nodeId} signed by ${signer.slice(0, 100)}: ignored`,
    );
    return false;
  }
  if (decoder.decode(msg.data) !== answerText(nodeId, nonce)) {
    security.refuseControl(
      ControlRefusalCode.StaleFrame,
      `an answer to the node-id probe of ${nodeId} that is not for this probe (a replay): ignored`,
    );
    return false;
  }
  return true;
}

/**
 * True when a live node with id `nodeId` answers the probe on `subject` within `timeoutMs` with a signed
 * answer over this probe's nonce. Every answer is read until then (a forged one first must not hide the
 * genuine one); the server's no-responders status ends the wait at once.
 */
export function signedProbe(
  nc: NatsConnection,
  subject: string,
  security: FrameSecurity,
  nodeId: string,
  timeoutMs: number,
): Promise<boolean> {
  const nonce = randomBytes(16).toString('hex');
  const inbox = createInbox();
  return new Promise<boolean>((resolve) => {
    let done = false;
    const finish = (taken: boolean): void => {
      if (done) return;
      done = true;
      clearTimeout(timer);
      sub.unsubscribe();
      resolve(taken);
    };
    const sub = nc.subscribe(inbox, {
      callback: (_err, msg) => {
        if (msg.headers?.code === 503 && msg.data.length === 0) finish(false);
        else if (isProbeAnswer(security, nodeId, msg, nonce)) finish(true);
      },
    });
    const timer = setTimeout(() => finish(false), timeoutMs);
    try {
      const h = natsHeaders();
      h.set(PROBE_HEADER, nonce);
      nc.publish(subject, undefined, { reply: inbox, headers: h });
    } catch {
      finish(false);
    }
  });
}
