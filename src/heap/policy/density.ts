/**
 * `density`: Go 1.21.0's explicit huge page management (golang/go CL 436395, "runtime: manage
 * huge pages explicitly"; `runtime/mgcscavenge.go` `scavChunkHiOccFrac`, `scavChunkData.
 * shouldScavenge`, `mem_linux.go` at go1.21.0), rolled back in Go 1.21.1+ after allocation stalls
 * and RSS growth (golang/go#61718, #63334).
 *
 * - Every chunk the heap maps is advised MADV_HUGEPAGE at once (`sysHugePage` on growth).
 * - `sysUnused` no longer marks NOHUGEPAGE edges.
 * - The scavenger releases only from 4 MiB chunks (`pallocChunkBytes`) that were less than
 *   96.875 % (496 of 512 pages) in use both now and at the last GC (`shouldScavenge`), from the
 *   highest chunk down; within a chunk, from the top.
 *
 * Simplified: the runtime's page allocator is a radix tree of bitmaps, here it is the treap heap
 * (same placement for these sizes: lowest address first fit); 1.21.0 also advised NOHUGEPAGE on a
 * chunk it scavenged and HUGEPAGE again when it became dense — the brief's variant keeps every
 * chunk `hg` (no NOHUGEPAGE at all), which is also what the later 1.21.x releases ended up with.
 */
import type { HeapPolicy, PolicyHeap } from './types';

/** pallocChunkBytes. */
export const CHUNK_BYTES = 4 << 20;
/** scavChunkHiOccFrac. */
export const HI_OCC_FRAC = 0.96875;

export function densityPolicy(): HeapPolicy {
  let heap: PolicyHeap;
  /** In-use bytes per chunk at the last GC. */
  let lastInUse = new Float64Array(0);
  const chunks = () => Math.floor(heap.heapSys / CHUNK_BYTES);
  const inUse = (c: number) => {
    const f = heap.physHugePageSize || 2 << 20;
    const per = Math.max(1, CHUNK_BYTES / f);
    let b = 0;
    for (let k = 0; k < per; k++) b += heap.frameInUse(c * per + k);
    return b;
  };
  const dense = (bytes: number) => bytes >= HI_OCC_FRAC * CHUNK_BYTES;
  return {
    name: 'density',
    release: 'dontneed',
    nohugepageEdges: false,
    attach(h) {
      heap = h;
    },
    grown(v, n) {
      heap.sysHugePage(v, n);
    },
    gcDone() {
      lastInUse = new Float64Array(chunks());
      for (let c = 0; c < lastInUse.length; c++) lastInUse[c] = inUse(c);
    },
    scavenge(nbytes) {
      let released = 0;
      for (let c = chunks() - 1; c >= 0 && released < nbytes; c--) {
        if (dense(inUse(c)) || (c < lastInUse.length && dense(lastInUse[c]))) continue;
        const lo = heap.arenaBase + c * CHUNK_BYTES;
        released += heap.releaseRange(lo, lo + CHUNK_BYTES, nbytes - released);
      }
      return released;
    },
  };
}
