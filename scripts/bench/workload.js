'use strict';
/**
 * The seeded churn the heap rows share (5, 6, 8, 9): a live set of spans of mixed sizes, each
 * step frees one live span at random and allocates a replacement of a fresh random size (one
 * alloc+free pair), and every `scavengeEvery` pairs the scavenger releases a share of the free
 * memory, as the background scavenger would. The same seed gives the same sequence of calls,
 * whatever the policy, so `coalesce` and `none` run exactly the same workload.
 */

/** splitmix32, as src/heap/rand.ts: the workload must not depend on the heap's own generator. */
function rng(seed) {
  let state = seed >>> 0;
  return () => {
    state = (state + 0x9e3779b9) | 0;
    let z = state;
    z = Math.imul(z ^ (z >>> 16), 0x85ebca6b);
    z = Math.imul(z ^ (z >>> 13), 0xc2b2ae35);
    return ((z ^ (z >>> 16)) >>> 0) / 0x1_0000_0000;
  };
}

/** Span sizes in runtime pages (8 KiB): mostly small, some medium, a few spanning huge pages. */
const SIZES = {
  /** Row 5: small spans only, so the live count, not the bytes, is what grows. */
  small: (r) => 1 + Math.floor(r() * 8),
  /** Rows 6, 8, 9: 70% 1–4 pages, 25% 5–64, 5% 65–768 (up to 6 MiB). */
  mixed: (r) => {
    const x = r();
    if (x < 0.7) return 1 + Math.floor(r() * 4);
    if (x < 0.95) return 5 + Math.floor(r() * 60);
    return 65 + Math.floor(r() * 704);
  },
};

/**
 * The plan of a churn, precomputed so the timed loop does nothing but heap calls: the initial
 * sizes, then per pair the live slot to free and the size to allocate.
 */
function plan({ seed, live, pairs, sizes = 'mixed' }) {
  const r = rng(seed);
  const size = SIZES[sizes];
  const initial = new Int32Array(live);
  for (let i = 0; i < live; i++) initial[i] = size(r);
  const slot = new Int32Array(pairs);
  const npages = new Int32Array(pairs);
  for (let i = 0; i < pairs; i++) {
    slot[i] = Math.floor(r() * live);
    npages[i] = size(r);
  }
  return { seed, live, pairs, initial, slot, npages };
}

/** Allocate the plan's initial live set; returns the span array. onAlloc(span) after each alloc. */
function fill(heap, p, onAlloc) {
  const spans = new Array(p.live);
  for (let i = 0; i < p.live; i++) {
    spans[i] = heap.alloc(p.initial[i]);
    if (onAlloc) onAlloc(spans[i]);
  }
  return spans;
}

/**
 * Run pairs [from, to) of the plan. Hooks (all optional): beforeFree(span) just before each
 * free, onAlloc(span) after each alloc, scavenge every `scavengeEvery` pairs releasing
 * `scavengeShare` of the free unscavenged bytes.
 */
function churn(heap, spans, p, { from = 0, to = p.pairs, beforeFree, onAlloc, scavengeEvery = 0, scavengeShare = 0.5 } = {}) {
  for (let i = from; i < to; i++) {
    const k = p.slot[i];
    if (beforeFree) beforeFree(spans[k]);
    heap.free(spans[k]);
    spans[k] = heap.alloc(p.npages[i]);
    if (onAlloc) onAlloc(spans[k]);
    if (scavengeEvery && (i + 1) % scavengeEvery === 0) heap.scavenge(Math.floor(heap.heapFree * scavengeShare));
  }
}

module.exports = { rng, SIZES, plan, fill, churn };
