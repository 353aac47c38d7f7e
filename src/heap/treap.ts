/**
 * The free set (Go 1.13's mTreap): every free span in a treap keyed by base address. Between calls:
 * keys increase left to right; a parent's priority is ≤ its children's; each node's `maxPages` and
 * `kinds` summarise its subtree; `unscavHugePages` = Σ hugePages() over the unscavenged spans held.
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

function kindBit(s: Span): number {
  return 1 << ((s.scavenged ? SCAVENGED : 0) | (s.hugePages() > 0 ? HUGE : 0));
}

class Node {
  left: Node | null = null;
  right: Node | null = null;
  parent: Node | null = null;
  key: number;
  /** The largest npages in this subtree. */
  maxPages: number;
  /** The kinds present in this subtree (a Filter). */
  kinds: number;

  constructor(readonly span: Span, readonly priority: number) {
    this.key = span.base;
    this.maxPages = span.npages;
    this.kinds = kindBit(span);
  }

  /** Recompute the summaries from the span and the children; true if they changed. */
  update(): boolean {
    let maxPages = this.span.npages;
    let kinds = kindBit(this.span);
    if (this.left) {
      maxPages = Math.max(maxPages, this.left.maxPages);
      kinds |= this.left.kinds;
    }
    if (this.right) {
      maxPages = Math.max(maxPages, this.right.maxPages);
      kinds |= this.right.kinds;
    }
    const changed = maxPages !== this.maxPages || kinds !== this.kinds;
    this.maxPages = maxPages;
    this.kinds = kinds;
    return changed;
  }

  /** Recompute summaries from here towards the root, stopping where nothing changed. */
  updateUp(): void {
    for (let t: Node | null = this; t && t.update(); t = t.parent);
  }
}

export class FreeTreap {
  private root: Node | null = null;
  private count = 0;
  private hugePages = 0;

  /** rand gives the priorities: a seeded one makes the treap's shape reproducible. */
  constructor(private readonly rand: Rand) {}

  /** The number of free spans held. */
  get size(): number {
    return this.count;
  }

  /** Free, unscavenged huge pages held (the runtime's unscavHugePages), kept incrementally. */
  get unscavHugePages(): number {
    return this.hugePages;
  }

  insert(s: Span): void {
    let parent: Node | null = null;
    for (let t = this.root; t; t = s.base < t.key ? t.left : t.right) {
      if (t.key === s.base) throw new Error(`free set: a span at 0x${s.base.toString(16)} is already held`);
      parent = t;
    }
    const t = new Node(s, this.rand.next());
    t.parent = parent;
    if (!parent) this.root = t;
    else if (s.base < parent.key) parent.left = t;
    else parent.right = t;
    parent?.updateUp();
    while (t.parent && t.parent.priority > t.priority) this.rotateUp(t);
    this.count++;
    if (!s.scavenged) this.hugePages += s.hugePages();
  }

  remove(s: Span): void {
    const t = this.nodeOf(s);
    // Rotate t down to a leaf, lifting whichever child keeps the priority order.
    while (t.left || t.right) {
      const child = !t.right || (t.left && t.left.priority < t.right.priority) ? t.left! : t.right;
      this.rotateUp(child);
    }
    const parent = t.parent;
    this.replaceChild(parent, t, null);
    parent?.updateUp();
    this.count--;
    if (!s.scavenged) this.hugePages -= s.hugePages();
  }

  /**
   * Change s in place (base, npages, scavenged) without taking it out. fn must keep s between its
   * neighbours in address order, so only the summaries and the counter need fixing.
   */
  mutate(s: Span, fn: (s: Span) => void): void {
    const t = this.nodeOf(s);
    if (!s.scavenged) this.hugePages -= s.hugePages();
    fn(s);
    if (!s.scavenged) this.hugePages += s.hugePages();
    t.key = s.base;
    t.updateUp();
  }

  /** First fit: the lowest-addressed free span with at least npages, in O(depth). */
  find(npages: number): Span | undefined {
    let t = this.root;
    if (!t || t.maxPages < npages) return undefined;
    for (;;) {
      if (t.left && t.left.maxPages >= npages) t = t.left;
      else if (t.span.npages >= npages) return t.span;
      else t = t.right!;
    }
  }

  /** The highest-addressed free span whose kind is in filter, in O(depth). */
  findLast(filter: Filter): Span | undefined {
    let t = this.root;
    if (!t || (t.kinds & filter) === 0) return undefined;
    for (;;) {
      if (t.right && (t.right.kinds & filter) !== 0) t = t.right;
      else if ((kindBit(t.span) & filter) !== 0) return t.span;
      else t = t.left!;
    }
  }

  /** The free span with the highest base ≤ addr (it holds addr only if addr < its end). */
  floor(addr: number): Span | undefined {
    let best: Node | null = null;
    for (let t = this.root; t; t = t.key <= addr ? t.right : t.left) {
      if (t.key <= addr) best = t;
    }
    return best?.span;
  }

  /** The free spans in address order. */
  *[Symbol.iterator](): IterableIterator<Span> {
    const stack: Node[] = [];
    for (let t = this.root; t || stack.length > 0; t = t.right) {
      for (; t; t = t.left) stack.push(t);
      t = stack.pop()!;
      yield t.span;
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
    const walk = (t: Node, parent: Node | null): void => {
      if (t.parent !== parent) problem ??= `node 0x${t.key.toString(16)} has a wrong parent pointer`;
      if (parent && parent.priority > t.priority) problem ??= `node 0x${t.key.toString(16)} breaks the priority order`;
      if (t.left) walk(t.left, t);
      if (t.key !== t.span.base) problem ??= `node 0x${t.key.toString(16)}: its span starts at 0x${t.span.base.toString(16)}`;
      if (t.key <= previousKey) problem ??= `node 0x${t.key.toString(16)} is out of address order`;
      previousKey = t.key;
      nodes++;
      if (t.right) walk(t.right, t);
      const { maxPages, kinds } = t;
      if (t.update()) {
        problem ??= `node 0x${t.key.toString(16)} summary is stale: ` +
          `maxPages ${maxPages} (want ${t.maxPages}), kinds ${kinds} (want ${t.kinds})`;
        t.maxPages = maxPages;
        t.kinds = kinds;
      }
    };
    if (this.root) walk(this.root, null);
    if (nodes !== this.count) problem ??= `free set holds ${nodes} spans but counts ${this.count}`;
    return problem;
  }

  /** The node holding s; s must be in the set. */
  private nodeOf(s: Span): Node {
    let t = this.root;
    while (t && t.key !== s.base) t = s.base < t.key ? t.left : t.right;
    if (!t || t.span !== s) throw new Error(`free set: the span at 0x${s.base.toString(16)} is not held`);
    return t;
  }

  /** Rotate x above its parent, keeping address order, and fix both nodes' summaries. */
  private rotateUp(x: Node): void {
    const p = x.parent!;
    if (p.left === x) {
      p.left = x.right;
      if (x.right) x.right.parent = p;
      x.right = p;
    } else {
      p.right = x.left;
      if (x.left) x.left.parent = p;
      x.left = p;
    }
    this.replaceChild(p.parent, p, x);
    p.parent = x;
    p.update();
    x.update();
  }

  /** Put `next` where `old` hangs under parent (or at the root). */
  private replaceChild(parent: Node | null, old: Node, next: Node | null): void {
    if (next) next.parent = parent;
    if (!parent) this.root = next;
    else if (parent.left === old) parent.left = next;
    else parent.right = next;
  }
}
