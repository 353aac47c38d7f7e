'use strict';
/**
 * One lab heap, kept alive for measuring: src/lab/run.ts's prepareLab (arena thp 'always', the
 * lab's seeded churn with the paced scavenger, the final sweep, the collapse pass and the
 * verification) with the heap returned instead of closed, so rows 6 and 8 can interleave reads
 * over several heaps and raw mappings.
 */
function labHeap(ctx, { policy, seed, arenaBytes, ops }) {
  const { prepareLab } = ctx.dist('lab/run');
  const lab = prepareLab({ policy, thp: 'always', arenaBytes, ops, seed });
  const ranges = lab.live.map((s) => [s.base, s.bytes]);
  // Reads go through the lab's own LinuxMemory, which resolves each span to its reservation.
  const read = (count, seed) => lab.mem.randomReads(ranges, count, seed);
  return { heap: lab.heap, live: lab.live, ranges, read, collapse: lab.collapse, verification: lab.verification, close: lab.close };
}

module.exports = { labHeap };
