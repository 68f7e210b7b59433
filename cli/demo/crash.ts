// A node's crash, in one process: its view of the journal's stores goes dead at once (every operation after the
// crash never settles), so it writes nothing more, as a SIGKILLed process would not, while other nodes go on
// with the same stores.

import type { AppendLog, KeyValueStore } from '../../runtime/index.js';

export interface Crashable {
  journal: { log: AppendLog; blobs: KeyValueStore };
  crash(): void;
}

const never = <T>(): Promise<T> => new Promise<T>(() => {});

export function crashable(stores: { log: AppendLog; blobs: KeyValueStore }): Crashable {
  let dead = false;
  const guard =
    <A extends unknown[], R>(op: (...args: A) => Promise<R>) =>
    (...args: A): Promise<R> =>
      dead ? never<R>() : op(...args);
  const { log, blobs } = stores;
  const deadLog: AppendLog = {
    append: guard((key: string, data: string) => log.append(key, data)),
    read: guard((key: string, options?: Parameters<AppendLog['read']>[1]) => log.read(key, options)),
    purge: guard((key: string, beforeSeq?: number) => log.purge(key, beforeSeq)),
    close: async () => {}, // the stores are the fleet's, not this node's
  };
  const deadBlobs: KeyValueStore = {
    get: guard((key: string) => blobs.get(key)),
    create: guard((key: string, value: string) => blobs.create(key, value)),
    update: guard((key: string, value: string, revision: number) => blobs.update(key, value, revision)),
    put: guard((key: string, value: string) => blobs.put(key, value)),
    delete: guard((key: string) => blobs.delete(key)),
    close: async () => {},
  };
  if (blobs.keys !== undefined) {
    const keys = blobs.keys.bind(blobs);
    deadBlobs.keys = guard((prefix: string) => keys(prefix));
  }
  return {
    journal: { log: deadLog, blobs: deadBlobs },
    crash: () => {
      dead = true;
    },
  };
}
