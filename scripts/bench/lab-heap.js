'use strict';
/**
 * One lab heap, kept alive for measuring: the same steps as src/lab/run.ts's runLab (arena thp
 * 'always', the lab's own seeded churn generator with the paced scavenger, the final GC sweep
 * freeing half the live spans, then the collapse pass and the verification) — but the heap is
 * returned instead of closed, so rows 6 and 8 can interleave reads over several heaps and raw
 * mappings. Mirrors runLab step for step; if the lab's loop changes, change this with it.
 */
function labHeap(ctx, { policy, seed, arenaBytes, ops }) {
  const { MHeap } = ctx.dist('heap/mheap');
  const { Sys } = ctx.dist('sys/sys');
  const { LinuxMemory } = ctx.dist('sys/linux');
  const { Rand } = ctx.dist('heap/rand');
  const { churn } = ctx.dist('lab/workload');
  const { collapse, verify } = ctx.dist('verify/index');

  const mem = new LinuxMemory();
  const heap = new MHeap(new Sys(mem, { thp: 'always' }), {
    arenaBytes,
    growBytes: Math.min(64 << 20, arenaBytes),
    pageSize: 8192,
    policy,
  });
  const live = [];
  const count = { spans: 0, pages: 0 };
  const maxLivePages = Math.floor((arenaBytes * 0.5) / heap.pageSize);
  for (const op of churn({ ops, seed, maxLivePages }, count)) {
    if (op.kind === 'alloc') {
      try {
        const s = heap.alloc(op.npages);
        mem.touch(s.base, s.bytes);
        live.push(s);
      } catch (e) {
        if (e.code !== 'ERR_HUGESPAN_ARENA_EXHAUSTED') throw e;
      }
    } else if (op.kind === 'free') {
      const s = live[op.pick];
      live[op.pick] = live[live.length - 1];
      live.pop();
      heap.free(s);
    } else {
      heap.scavenge(Math.max(0, heap.retained - 1.1 * heap.heapInuse));
    }
    count.spans = live.length;
    count.pages = heap.heapInuse / heap.pageSize;
  }
  const sweep = new Rand(seed ^ 0x5eed);
  for (let k = live.length - 1; k >= 0; k--) {
    if (sweep.float() < 0.5) continue;
    heap.free(live[k]);
    live[k] = live[live.length - 1];
    live.pop();
  }
  const pass = collapse(heap);
  const verification = verify(heap);
  const ranges = new Float64Array(live.length * 2);
  live.forEach((s, i) => {
    ranges[2 * i] = s.base;
    ranges[2 * i + 1] = s.bytes;
  });
  return {
    heap,
    live,
    ranges,
    collapse: pass,
    verification,
    close: () => mem.close(),
  };
}

module.exports = { labHeap };
