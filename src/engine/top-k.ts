/**
 * Top-k selection: the `k` first items of an ordering without sorting them all. A query with a limit
 * and no index that serves its order keeps a bounded heap of the best `offset + limit` rows seen so far,
 * O(n log k) instead of the O(n log n) of a full sort (`orderBy population desc, limit 10` over 135,000
 * rows sorted them all before).
 */

/**
 * The `k` smallest of `items` under `compare`, in ascending order. `compare` must be a total order (the
 * engine's always is: every ordering ends with the primary key), so the result is exactly what
 * `items.sort(compare).slice(0, k)` gives. `items` is left as it was.
 */
export function smallestSorted<T>(items: readonly T[], compare: (a: T, b: T) => number, k: number): T[] {
  if (k <= 0) return [];
  if (k >= items.length) return items.slice().sort(compare);
  const top = new TopK(compare, k);
  for (const item of items) top.offer(item);
  return top.sorted();
}

/**
 * The `k` smallest items offered so far, kept in a bounded heap: a scan offers each match as it meets it,
 * without first collecting every match in an array.
 */
export class TopK<T> {
  // A max-heap of the k smallest seen so far: its root is the worst of them, the one the next better item evicts.
  private readonly heap: T[] = [];

  constructor(
    private readonly compare: (a: T, b: T) => number,
    private readonly k: number,
  ) {}

  /** The worst item kept, once `k` are kept: the bar the next item must beat (most items do not). */
  private worst: T | undefined;
  private full = false;

  offer(item: T): void {
    const heap = this.heap;
    if (this.full) {
      if (this.compare(item, this.worst!) >= 0) return;
      heap[0] = item;
      siftDown(heap, this.compare);
      this.worst = heap[0];
      return;
    }
    if (this.k <= 0) return;
    heap.push(item);
    siftUp(heap, heap.length - 1, this.compare);
    if (heap.length === this.k) {
      this.full = true;
      this.worst = heap[0];
    }
  }

  /** The items kept, in ascending order. */
  sorted(): T[] {
    return this.heap.sort(this.compare);
  }
}

function siftUp<T>(heap: T[], at: number, compare: (a: T, b: T) => number): void {
  const item = heap[at]!;
  while (at > 0) {
    const parent = (at - 1) >> 1;
    if (compare(item, heap[parent]!) <= 0) break;
    heap[at] = heap[parent]!;
    at = parent;
  }
  heap[at] = item;
}

function siftDown<T>(heap: T[], compare: (a: T, b: T) => number): void {
  const item = heap[0]!;
  const size = heap.length;
  let at = 0;
  for (;;) {
    let child = 2 * at + 1;
    if (child >= size) break;
    if (child + 1 < size && compare(heap[child + 1]!, heap[child]!) > 0) child++;
    if (compare(heap[child]!, item) <= 0) break;
    heap[at] = heap[child]!;
    at = child;
  }
  heap[at] = item;
}
