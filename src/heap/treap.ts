/**
 * The free set (Go 1.13's mTreap): every free span in a treap keyed by base address. Between calls:
 * keys increase left to right; a parent's priority is ≤ its children's; each node caches its own
 * span's npages, kind and unscavenged huge pages as of the last insert/replace/refresh, and its
 * `maxPages` and `kinds` summarise its subtree; a held span's `freeNode` is its node (0: not held);
 * `unscavHugePages` = Σ hugePages() over the unscavenged spans held.
 *
 * The nodes live in typed arrays indexed by node id (struct of arrays), not in objects: a descent
 * reads only `key` and `left`/`right`, a few hundred KiB at 100 000 spans that stay in cache where
 * node objects scattered over the JS heap did not, and the GC has nothing to trace. Id 0 is "no
 * node"; ids of removed nodes are reused.
 */

import type { Rand } from './rand';
import type { Span } from './span';

/**
 * A span's kind, for the scavenger: bit 0 set if scavenged, bit 1 set if it holds ≥ 1 huge page.
 * A Filter is a set of kinds (bit k set = kind k matches), so a subtree's `kinds` answers
 * "is there such a span below?" in one AND.
 */
export type Filter = number;
const SCAVENGED = 1;
const HUGE = 2;
/** Free, unscavenged spans holding at least one huge page: the scavenger's first pass. */
export const UNSCAVENGED_HUGE: Filter = 1 << HUGE;
/** Free, unscavenged spans holding no huge page: the scavenger's second pass. */
export const UNSCAVENGED_SMALL: Filter = 1 << 0;

/** No node: a nil child, parent or root. */
const NIL = 0;

function kindBit(s: Span, hugePages: number): number {
  return 1 << ((s.scavenged ? SCAVENGED : 0) | (hugePages > 0 ? HUGE : 0));
}

export class FreeTreap {
  private root = NIL;
  private count = 0;
  private hugePages = 0;

  // One entry per node id. Page counts and addresses are Float64: they may pass 2^31.
  private left = new Int32Array(0);
  private right = new Int32Array(0);
  private parent = new Int32Array(0);
  /** The span's base, npages, kind bit and (if unscavenged) hugePages(), as of its last load. */
  private key = new Float64Array(0);
  private pages = new Float64Array(0);
  private kind = new Uint8Array(0);
  private unscavHuge = new Float64Array(0);
  /** The largest npages and the kinds (a Filter) in the node's subtree. */
  private maxPages = new Float64Array(0);
  private kinds = new Uint8Array(0);
  /** The random uint32 that orders the heap. */
  private priority = new Float64Array(0);
  private readonly spans: (Span | null)[] = [null];
  /** Removed node ids, reused first; ids below `nextId` not in here are in use. */
  private readonly spareIds: number[] = [];
  private nextId = 1;

  /** rand gives the priorities: a seeded one makes the treap's shape reproducible. */
  constructor(private readonly rand: Rand) {
    this.reserve(64);
  }

  /** The number of free spans held. */
  get size(): number {
    return this.count;
  }

  /** Free, unscavenged huge pages held (the runtime's unscavHugePages), kept incrementally. */
  get unscavHugePages(): number {
    return this.hugePages;
  }

  insert(s: Span): void {
    const { left, right, key } = this;
    let parent = NIL;
    for (let t = this.root; t !== NIL; t = s.base < key[t] ? left[t] : right[t]) {
      if (key[t] === s.base) throw new Error(`free set: a span at 0x${s.base.toString(16)} is already held`);
      parent = t;
    }
    const t = this.newNode(s);
    this.parent[t] = parent;
    if (parent === NIL) this.root = t;
    else if (s.base < this.key[parent]) this.left[parent] = t;
    else this.right[parent] = t;
    // Rotate first, then fix the summaries above t once: each rotation leaves both nodes it moves
    // correct, so only the ancestors of t's final place still miss t.
    while (this.parent[t] !== NIL && this.priority[this.parent[t]] > this.priority[t]) this.rotateUp(t);
    this.updateUp(this.parent[t]);
    this.count++;
    this.hugePages += this.unscavHuge[t];
  }

  remove(s: Span): void {
    const t = this.nodeOf(s);
    const { left, right, priority } = this;
    // Rotate t down to a leaf, lifting whichever child keeps the priority order.
    while (left[t] !== NIL || right[t] !== NIL) {
      const l = left[t];
      const r = right[t];
      this.rotateUp(r === NIL || (l !== NIL && priority[l] < priority[r]) ? l : r);
    }
    const parent = this.parent[t];
    this.replaceChild(parent, t, NIL);
    this.updateUp(parent);
    this.count--;
    this.hugePages -= this.unscavHuge[t];
    s.freeNode = NIL;
    this.spans[t] = null;
    this.spareIds.push(t);
  }

  /**
   * Put s where old is held, and take old out: one node changes hands instead of a remove and an
   * insert (what coalescing needs). s must not be held and must fall between old's neighbours in
   * address order.
   */
  replace(old: Span, s: Span): void {
    if (this.holds(s)) throw new Error(`free set: a span at 0x${s.base.toString(16)} is already held`);
    const t = this.nodeOf(old);
    old.freeNode = NIL;
    s.freeNode = t;
    this.spans[t] = s;
    this.refreshNode(t);
  }

  /**
   * Re-read s after a change in place (base, npages, scavenged) without taking it out. The change
   * must keep s between its neighbours in address order, so only the summaries and the counter
   * need fixing.
   */
  refresh(s: Span): void {
    this.refreshNode(this.nodeOf(s));
  }

  /** Change s in place with fn, then refresh it (see refresh for what fn may do). */
  mutate(s: Span, fn: (s: Span) => void): void {
    const t = this.nodeOf(s);
    fn(s);
    this.refreshNode(t);
  }

  /** First fit: the lowest-addressed free span with at least npages, in O(depth). */
  find(npages: number): Span | undefined {
    const { left, right, maxPages, pages } = this;
    let t = this.root;
    if (t === NIL || maxPages[t] < npages) return undefined;
    for (;;) {
      const l = left[t];
      if (l !== NIL && maxPages[l] >= npages) t = l;
      else if (pages[t] >= npages) return this.spans[t]!;
      else t = right[t];
    }
  }

  /** The highest-addressed free span whose kind is in filter, in O(depth). */
  findLast(filter: Filter): Span | undefined {
    const { left, right, kinds, kind } = this;
    let t = this.root;
    if (t === NIL || (kinds[t] & filter) === 0) return undefined;
    for (;;) {
      const r = right[t];
      if (r !== NIL && (kinds[r] & filter) !== 0) t = r;
      else if ((kind[t] & filter) !== 0) return this.spans[t]!;
      else t = left[t];
    }
  }

  /** The free span with the highest base ≤ addr (it holds addr only if addr < its end). */
  floor(addr: number): Span | undefined {
    let best = NIL;
    for (let t = this.root; t !== NIL; t = this.key[t] <= addr ? this.right[t] : this.left[t]) {
      if (this.key[t] <= addr) best = t;
    }
    return best === NIL ? undefined : this.spans[best]!;
  }

  /** The free spans in address order. */
  *[Symbol.iterator](): IterableIterator<Span> {
    const stack: number[] = [];
    for (let t = this.root; t !== NIL || stack.length > 0; t = this.right[t]) {
      for (; t !== NIL; t = this.left[t]) stack.push(t);
      t = stack.pop()!;
      yield this.spans[t]!;
    }
  }

  /** Σ hugePages() over the unscavenged spans held, counted the slow way. */
  recountUnscavHugePages(): number {
    let n = 0;
    for (const s of this) if (!s.scavenged) n += s.hugePages();
    return n;
  }

  /** The first broken invariant of the tree's shape or summaries, or undefined if there is none. */
  validate(): string | undefined {
    let problem: string | undefined;
    let previousKey = -Infinity;
    let nodes = 0;
    const at = (t: number): string => `node 0x${this.key[t].toString(16)}`;
    const walk = (t: number, parent: number): void => {
      const s = this.spans[t];
      if (!s) {
        problem ??= `${at(t)} holds no span`;
        return;
      }
      if (this.parent[t] !== parent) problem ??= `${at(t)} has a wrong parent pointer`;
      if (parent !== NIL && this.priority[parent] > this.priority[t]) problem ??= `${at(t)} breaks the priority order`;
      if (s.freeNode !== t) problem ??= `${at(t)}: its span does not point back to it`;
      if (this.left[t] !== NIL) walk(this.left[t], t);
      if (this.key[t] !== s.base) problem ??= `${at(t)}: its span starts at 0x${s.base.toString(16)}`;
      if (this.key[t] <= previousKey) problem ??= `${at(t)} is out of address order`;
      previousKey = this.key[t];
      nodes++;
      if (this.right[t] !== NIL) walk(this.right[t], t);
      // What load and update would write now, against what is cached; the cache is put back.
      const had = [this.pages[t], this.kind[t], this.unscavHuge[t], this.maxPages[t], this.kinds[t]];
      this.load(t, s);
      this.update(t);
      const want = [this.pages[t], this.kind[t], this.unscavHuge[t], this.maxPages[t], this.kinds[t]];
      [this.pages[t], this.kind[t], this.unscavHuge[t], this.maxPages[t], this.kinds[t]] = had;
      if (had.some((v, i) => v !== want[i])) {
        problem ??= `${at(t)} summary is stale: (npages, kind, unscavenged huge pages, maxPages, kinds) ` +
          `are (${had.join(', ')}), want (${want.join(', ')})`;
      }
    };
    if (this.root !== NIL) walk(this.root, NIL);
    if (nodes !== this.count) problem ??= `free set holds ${nodes} spans but counts ${this.count}`;
    return problem;
  }

  /** True if s is in this set. */
  private holds(s: Span): boolean {
    const t = s.freeNode;
    return t > NIL && t < this.nextId && this.spans[t] === s;
  }

  /** The node holding s; s must be in the set. */
  private nodeOf(s: Span): number {
    if (!this.holds(s)) throw new Error(`free set: the span at 0x${s.base.toString(16)} is not held`);
    return s.freeNode;
  }

  /** A fresh leaf for s, with a new random priority, not linked in yet. */
  private newNode(s: Span): number {
    let t = this.spareIds.pop();
    if (t === undefined) {
      if (this.nextId === this.key.length) this.reserve(2 * this.key.length);
      t = this.nextId++;
    }
    this.left[t] = this.right[t] = this.parent[t] = NIL;
    this.priority[t] = this.rand.next();
    this.spans[t] = s;
    s.freeNode = t;
    this.load(t, s);
    this.maxPages[t] = this.pages[t];
    this.kinds[t] = this.kind[t];
    return t;
  }

  /** Grow every per-node array to n entries, keeping their contents. */
  private reserve(n: number): void {
    const grow = <A extends Int32Array | Float64Array | Uint8Array>(a: A, make: (n: number) => A): A => {
      const b = make(n);
      b.set(a);
      return b;
    };
    this.left = grow(this.left, (k) => new Int32Array(k));
    this.right = grow(this.right, (k) => new Int32Array(k));
    this.parent = grow(this.parent, (k) => new Int32Array(k));
    this.key = grow(this.key, (k) => new Float64Array(k));
    this.pages = grow(this.pages, (k) => new Float64Array(k));
    this.kind = grow(this.kind, (k) => new Uint8Array(k));
    this.unscavHuge = grow(this.unscavHuge, (k) => new Float64Array(k));
    this.maxPages = grow(this.maxPages, (k) => new Float64Array(k));
    this.kinds = grow(this.kinds, (k) => new Uint8Array(k));
    this.priority = grow(this.priority, (k) => new Float64Array(k));
  }

  /** Read s's own figures into node t (the summaries are left to update). */
  private load(t: number, s: Span): void {
    const hugePages = s.hugePages();
    this.key[t] = s.base;
    this.pages[t] = s.npages;
    this.kind[t] = kindBit(s, hugePages);
    this.unscavHuge[t] = s.scavenged ? 0 : hugePages;
  }

  /** Re-read t's span into t, fix the counter and the summaries up to the root. */
  private refreshNode(t: number): void {
    this.hugePages -= this.unscavHuge[t];
    this.load(t, this.spans[t]!);
    this.hugePages += this.unscavHuge[t];
    this.updateUp(t);
  }

  /** Recompute t's summaries from its own figures and its children; true if they changed. */
  private update(t: number): boolean {
    const { maxPages, kinds } = this;
    let max = this.pages[t];
    let k = this.kind[t];
    const l = this.left[t];
    const r = this.right[t];
    if (l !== NIL) {
      if (maxPages[l] > max) max = maxPages[l];
      k |= kinds[l];
    }
    if (r !== NIL) {
      if (maxPages[r] > max) max = maxPages[r];
      k |= kinds[r];
    }
    const changed = max !== maxPages[t] || k !== kinds[t];
    maxPages[t] = max;
    kinds[t] = k;
    return changed;
  }

  /** Recompute summaries from t towards the root, stopping where nothing changed. */
  private updateUp(t: number): void {
    for (; t !== NIL && this.update(t); t = this.parent[t]);
  }

  /** Rotate x above its parent, keeping address order, and fix both nodes' summaries. */
  private rotateUp(x: number): void {
    const { left, right, parent } = this;
    const p = parent[x];
    if (left[p] === x) {
      const b = right[x];
      left[p] = b;
      if (b !== NIL) parent[b] = p;
      right[x] = p;
    } else {
      const b = left[x];
      right[p] = b;
      if (b !== NIL) parent[b] = p;
      left[x] = p;
    }
    this.replaceChild(parent[p], p, x);
    parent[p] = x;
    this.update(p);
    this.update(x);
  }

  /** Put `next` where `old` hangs under parent (or at the root). */
  private replaceChild(parent: number, old: number, next: number): void {
    if (next !== NIL) this.parent[next] = parent;
    if (parent === NIL) this.root = next;
    else if (this.left[parent] === old) this.left[parent] = next;
    else this.right[parent] = next;
  }
}
