// One append to a NATS append log, once its stream is open: a plain request to the key's subject, answered by
// the stream's ack. An append is on the path of every streamed token; the JetStream client's publish (options
// copied, headers built, a retry loop) and a second deadline timer cost about as much again as the server's
// work, so the request's own timeout is the deadline and the ack is read here.

import { headers, type NatsConnection } from '@nats-io/transport-node';
import { AppendLogError, AppendLogErrorCode } from '../../runtime/index.js';

/** JetStream's error code for a publish whose expected last subject sequence did not match. */
const WRONG_LAST_SEQUENCE = 10071;
/** The header of a conditional publish: the expected last sequence of the subject. */
const EXPECTED_LAST_SUBJECT_SEQUENCE = 'Nats-Expected-Last-Subject-Sequence';

/** What the stream answers a publish: its sequence, or a JetStream API error. */
interface PubAck {
  seq?: number;
  error?: { code?: number; err_code?: number; description?: string };
}

/** A JetStream API error answer, thrown with its `err_code` as `code` (as @nats-io/jetstream's errors have it). */
class JetStreamAnswerError extends Error {
  readonly code: number | undefined;
  constructor(error: NonNullable<PubAck['error']>) {
    super(error.description ?? `JetStream error ${error.err_code ?? error.code ?? ''}`);
    this.code = error.err_code;
  }
}

/**
 * Publishes `data` as a record of `key` on `subject` and resolves with its sequence; conditional on the key's
 * last sequence being `expectedSeq` when given (else `LOG_SEQUENCE_MISMATCH`). Other failures reject as they
 * come (the caller codes them).
 */
export async function publishRecord(
  nc: NatsConnection,
  subject: string,
  key: string,
  data: string,
  expectedSeq: number | undefined,
  timeoutMs: number,
): Promise<number> {
  let h: ReturnType<typeof headers> | undefined;
  if (expectedSeq !== undefined) {
    h = headers();
    h.set(EXPECTED_LAST_SUBJECT_SEQUENCE, String(expectedSeq));
  }
  const answer = await nc.request(
    subject,
    data,
    h === undefined ? { timeout: timeoutMs } : { timeout: timeoutMs, headers: h },
  );
  const ack = answer.json<PubAck>();
  if (ack.error !== undefined) {
    const err = new JetStreamAnswerError(ack.error);
    if (err.code === WRONG_LAST_SEQUENCE && expectedSeq !== undefined)
      throw new AppendLogError(
        AppendLogErrorCode.SequenceMismatch,
        `the last record of ${key} is not the expected ${expectedSeq}: ${err.message}`,
        { cause: err, data: { key, expectedSeq } },
      );
    throw err;
  }
  if (typeof ack.seq !== 'number') throw new Error('invalid ack response');
  return ack.seq;
}
