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
  const ranges = new Float64Array(lab.live.length * 2);
  lab.live.forEach((s, i) => {
    ranges[2 * i] = s.base;
    ranges[2 * i + 1] = s.bytes;
  });
  return { heap: lab.heap, live: lab.live, ranges, collapse: lab.collapse, verification: lab.verification, close: lab.close };
}

module.exports = { labHeap };
