// A min-heap of wake-up times: the reminder service's index of what comes due next. Entries are never removed
// in place; a stale one (its key rewritten since) is recognised by its revision when it comes out.

/** One wake-up: at `at`, look at `key` as it was at `revision`. */
export interface DueItem {
  readonly at: number;
  readonly key: string;
  readonly revision: number;
}

/** @internal Earliest `at` first. */
export class DueQueue {
  readonly #items: DueItem[] = [];

  get size(): number {
    return this.#items.length;
  }

  peek(): DueItem | undefined {
    return this.#items[0];
  }

  push(item: DueItem): void {
    const items = this.#items;
    items.push(item);
    let i = items.length - 1;
    while (i > 0) {
      const parent = (i - 1) >> 1;
      if ((items[parent] as DueItem).at <= item.at) break;
      items[i] = items[parent] as DueItem;
      i = parent;
    }
    items[i] = item;
  }

  pop(): DueItem | undefined {
    const items = this.#items;
    const top = items[0];
    const last = items.pop();
    if (top === undefined || last === undefined || items.length === 0) return top;
    let i = 0;
    for (;;) {
      const l = 2 * i + 1;
      if (l >= items.length) break;
      const r = l + 1;
      const child = r < items.length && (items[r] as DueItem).at < (items[l] as DueItem).at ? r : l;
      if ((items[child] as DueItem).at >= last.at) break;
      items[i] = items[child] as DueItem;
      i = child;
    }
    items[i] = last;
    return top;
  }

  clear(): void {
    this.#items.length = 0;
  }
}
