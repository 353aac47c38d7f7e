/**
 * The free set (Go 1.13's mTreap): every free span in a treap keyed by base address. Between calls:
 * keys increase left to right; a parent's priority is ≤ its children's; each node caches its own
 * span's npages, kind and unscavenged huge pages as of the last insert/replace/refresh, and its
 * `maxPages` and `kinds` summarise its subtree; a held span's `freeNode` is its node (0: not held);
 * `unscavHugePages` = Σ hugePages() over the unscavenged spans held.
 *
 * The nodes live in one ArrayBuffer, 64 bytes (one cache line) per node id, seen through a
 * Float64Array (key, pages, maxPages, priority, unscavenged huge pages) and an Int32Array (links,
 * kind, kinds): a step of a descent or of a summary update touches one line per node, where
 * parallel arrays touched one per field, and the GC has nothing to trace. Id 0 is "no node"; ids
 * of removed nodes are reused.
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

// A node's fields: Float64Array indices from t * F64, Int32Array indices from t * I32. Addresses
// and page counts are doubles (they pass 2^31); links and kinds are int32. 8 doubles = 64 bytes.
const F64 = 8;
const I32 = 16;
const KEY = 0; // the span's base, as of its last load
const PAGES = 1; // the span's npages
const MAX = 2; // the largest npages in the subtree
const PRIO = 3; // the random uint32 that orders the heap
const HUGE_PAGES = 7; // the span's hugePages() if unscavenged, else 0
const LEFT = 8; // int32 slots 8–13 share doubles 4–6
const RIGHT = 9;
const PARENT = 10;
const KIND = 11; // the span's kind bit
const KINDS = 12; // the kinds (a Filter) in the subtree

export class FreeTreap {
  private root = NIL;
  private count = 0;
  private hugePages = 0;

  private f = new Float64Array(0);
  private i = new Int32Array(0);
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
    const { f, i } = this;
    const base = s.base;
    let parent = NIL;
    for (let t = this.root; t !== NIL; ) {
      const k = f[t * F64 + KEY];
      if (k === base) throw new Error(`free set: a span at 0x${base.toString(16)} is already held`);
      parent = t;
      t = base < k ? i[t * I32 + LEFT] : i[t * I32 + RIGHT];
    }
    const t = this.newNode(s);
    const { f: f2, i: i2 } = this; // newNode may have grown the buffers
    i2[t * I32 + PARENT] = parent;
    if (parent === NIL) this.root = t;
    else if (base < f2[parent * F64 + KEY]) i2[parent * I32 + LEFT] = t;
    else i2[parent * I32 + RIGHT] = t;
    // Rotate first, then fix the summaries above t once: each rotation leaves both nodes it moves
    // correct, so only the ancestors of t's final place still miss t.
    const prio = f2[t * F64 + PRIO];
    for (let p = i2[t * I32 + PARENT]; p !== NIL && f2[p * F64 + PRIO] > prio; p = i2[t * I32 + PARENT]) this.rotateUp(t);
    this.updateUp(i2[t * I32 + PARENT]);
    this.count++;
    this.hugePages += f2[t * F64 + HUGE_PAGES];
  }

  remove(s: Span): void {
    const t = this.nodeOf(s);
    const { f, i } = this;
    // Rotate t down to a leaf, lifting whichever child keeps the priority order.
    for (;;) {
      const l = i[t * I32 + LEFT];
      const r = i[t * I32 + RIGHT];
      if (l === NIL && r === NIL) break;
      this.rotateUp(r === NIL || (l !== NIL && f[l * F64 + PRIO] < f[r * F64 + PRIO]) ? l : r);
    }
    const parent = i[t * I32 + PARENT];
    this.replaceChild(parent, t, NIL);
    this.updateUp(parent);
    this.count--;
    this.hugePages -= f[t * F64 + HUGE_PAGES];
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
    const { f, i } = this;
    let t = this.root;
    if (t === NIL || f[t * F64 + MAX] < npages) return undefined;
    for (;;) {
      const l = i[t * I32 + LEFT];
      if (l !== NIL && f[l * F64 + MAX] >= npages) t = l;
      else if (f[t * F64 + PAGES] >= npages) return this.spans[t]!;
      else t = i[t * I32 + RIGHT];
    }
  }

  /** The highest-addressed free span whose kind is in filter, in O(depth). */
  findLast(filter: Filter): Span | undefined {
    const i = this.i;
    let t = this.root;
    if (t === NIL || (i[t * I32 + KINDS] & filter) === 0) return undefined;
    for (;;) {
      const r = i[t * I32 + RIGHT];
      if (r !== NIL && (i[r * I32 + KINDS] & filter) !== 0) t = r;
      else if ((i[t * I32 + KIND] & filter) !== 0) return this.spans[t]!;
      else t = i[t * I32 + LEFT];
    }
  }

  /** The free span with the highest base ≤ addr (it holds addr only if addr < its end). */
  floor(addr: number): Span | undefined {
    const { f, i } = this;
    let best = NIL;
    for (let t = this.root; t !== NIL; ) {
      if (f[t * F64 + KEY] <= addr) {
        best = t;
        t = i[t * I32 + RIGHT];
      } else {
        t = i[t * I32 + LEFT];
      }
    }
    return best === NIL ? undefined : this.spans[best]!;
  }

  /** The free spans in address order. */
  *[Symbol.iterator](): IterableIterator<Span> {
    const stack: number[] = [];
    for (let t = this.root; t !== NIL || stack.length > 0; t = this.i[t * I32 + RIGHT]) {
      for (; t !== NIL; t = this.i[t * I32 + LEFT]) stack.push(t);
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
    const { f, i } = this;
    let problem: string | undefined;
    let previousKey = -Infinity;
    let nodes = 0;
    const at = (t: number): string => `node 0x${f[t * F64 + KEY].toString(16)}`;
    const walk = (t: number, parent: number): void => {
      const s = this.spans[t];
      if (!s) {
        problem ??= `${at(t)} holds no span`;
        return;
      }
      if (i[t * I32 + PARENT] !== parent) problem ??= `${at(t)} has a wrong parent pointer`;
      if (parent !== NIL && f[parent * F64 + PRIO] > f[t * F64 + PRIO]) problem ??= `${at(t)} breaks the priority order`;
      if (s.freeNode !== t) problem ??= `${at(t)}: its span does not point back to it`;
      if (i[t * I32 + LEFT] !== NIL) walk(i[t * I32 + LEFT], t);
      if (f[t * F64 + KEY] !== s.base) problem ??= `${at(t)}: its span starts at 0x${s.base.toString(16)}`;
      if (f[t * F64 + KEY] <= previousKey) problem ??= `${at(t)} is out of address order`;
      previousKey = f[t * F64 + KEY];
      nodes++;
      if (i[t * I32 + RIGHT] !== NIL) walk(i[t * I32 + RIGHT], t);
      // What load and update would write now, against what is cached; the cache is put back.
      const read = () => [f[t * F64 + PAGES], i[t * I32 + KIND], f[t * F64 + HUGE_PAGES], f[t * F64 + MAX], i[t * I32 + KINDS]];
      const had = read();
      this.load(t, s);
      this.update(t);
      const want = read();
      [f[t * F64 + PAGES], i[t * I32 + KIND], f[t * F64 + HUGE_PAGES], f[t * F64 + MAX], i[t * I32 + KINDS]] = had;
      if (had.some((v, k) => v !== want[k])) {
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
      if (this.nextId * F64 === this.f.length) this.reserve(2 * this.nextId);
      t = this.nextId++;
    }
    const { f, i } = this;
    i[t * I32 + LEFT] = i[t * I32 + RIGHT] = i[t * I32 + PARENT] = NIL;
    f[t * F64 + PRIO] = this.rand.next();
    this.spans[t] = s;
    s.freeNode = t;
    this.load(t, s);
    f[t * F64 + MAX] = f[t * F64 + PAGES];
    i[t * I32 + KINDS] = i[t * I32 + KIND];
    return t;
  }

  /** Room for n node ids, keeping the nodes. */
  private reserve(n: number): void {
    const f = new Float64Array(n * F64);
    f.set(this.f);
    this.f = f;
    this.i = new Int32Array(f.buffer);
  }

  /** Read s's own figures into node t (the summaries are left to update). */
  private load(t: number, s: Span): void {
    const hugePages = s.hugePages();
    this.f[t * F64 + KEY] = s.base;
    this.f[t * F64 + PAGES] = s.npages;
    this.i[t * I32 + KIND] = kindBit(s, hugePages);
    this.f[t * F64 + HUGE_PAGES] = s.scavenged ? 0 : hugePages;
  }

  /** Re-read t's span into t, fix the counter and the summaries up to the root. */
  private refreshNode(t: number): void {
    this.hugePages -= this.f[t * F64 + HUGE_PAGES];
    this.load(t, this.spans[t]!);
    this.hugePages += this.f[t * F64 + HUGE_PAGES];
    this.updateUp(t);
  }

  /** Recompute t's summaries from its own figures and its children; true if they changed. */
  private update(t: number): boolean {
    const { f, i } = this;
    let max = f[t * F64 + PAGES];
    let k = i[t * I32 + KIND];
    const l = i[t * I32 + LEFT];
    const r = i[t * I32 + RIGHT];
    if (l !== NIL) {
      if (f[l * F64 + MAX] > max) max = f[l * F64 + MAX];
      k |= i[l * I32 + KINDS];
    }
    if (r !== NIL) {
      if (f[r * F64 + MAX] > max) max = f[r * F64 + MAX];
      k |= i[r * I32 + KINDS];
    }
    const changed = max !== f[t * F64 + MAX] || k !== i[t * I32 + KINDS];
    f[t * F64 + MAX] = max;
    i[t * I32 + KINDS] = k;
    return changed;
  }

  /** Recompute summaries from t towards the root, stopping where nothing changed. */
  private updateUp(t: number): void {
    for (; t !== NIL && this.update(t); t = this.i[t * I32 + PARENT]);
  }

  /** Rotate x above its parent, keeping address order, and fix both nodes' summaries. */
  private rotateUp(x: number): void {
    const i = this.i;
    const p = i[x * I32 + PARENT];
    if (i[p * I32 + LEFT] === x) {
      const b = i[x * I32 + RIGHT];
      i[p * I32 + LEFT] = b;
      if (b !== NIL) i[b * I32 + PARENT] = p;
      i[x * I32 + RIGHT] = p;
    } else {
      const b = i[x * I32 + LEFT];
      i[p * I32 + RIGHT] = b;
      if (b !== NIL) i[b * I32 + PARENT] = p;
      i[x * I32 + LEFT] = p;
    }
    this.replaceChild(i[p * I32 + PARENT], p, x);
    i[p * I32 + PARENT] = x;
    this.update(p);
    this.update(x);
  }

  /** Put `next` where `old` hangs under parent (or at the root). */
  private replaceChild(parent: number, old: number, next: number): void {
    const i = this.i;
    if (next !== NIL) i[next * I32 + PARENT] = parent;
    if (parent === NIL) this.root = next;
    else if (i[parent * I32 + LEFT] === old) i[parent * I32 + LEFT] = next;
    else i[parent * I32 + RIGHT] = next;
  }
}
