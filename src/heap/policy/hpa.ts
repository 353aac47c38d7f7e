/**
 * `hpa`: jemalloc's hugepage-aware allocator (jemalloc 5.3.0, 2022: `src/hpa.c`
 * `hpa_try_alloc_batch_no_grow`, `hpa_shard_maybe_do_deferred_work`, `hpa_try_hugify`,
 * `hpa_try_purge`; `src/psset.c` `psset_pick_alloc`, `psset_pick_purge`; `include/jemalloc/
 * internal/hpdata.h`; options `hpa_hugification_threshold` 95 %, `hpa_hugify_delay_ms` 10 000,
 * `hpa_dirty_mult`).
 *
 * - Each huge page is a slab (`hpdata`). A request of at most half a huge page goes to the slab
 *   whose longest free run is in the smallest power-of-two class that fits (psset's bins), the
 *   oldest (lowest address) among them, at the first fitting run inside it (first fit).
 * - A slab changed while its in-use share is at least 95 % becomes eligible, its timestamp set to
 *   now (`hpa_update_purge_hugify_eligibility` → `hpdata_allow_hugify`, again at every such change);
 *   once the hugify delay (10 s of program time) has passed since, it is hugified: MADV_HUGEPAGE,
 *   then MADV_COLLAPSE so the kernel backs it now (jemalloc's `hpa_hugify_sync` variant; plain 5.3
 *   leaves the collapse to khugepaged). Falling below 95 % keeps it eligible, as jemalloc does;
 *   emptying the slab or purging it clears it (`hpdata_disallow_hugify`).
 * - Purging (the release the heap's scavenger asks for) picks slabs with the most dirty
 *   (free, unreleased) memory, empty slabs first; a hugified slab is dehugified
 *   (MADV_NOHUGEPAGE on the whole slab) before its dirty pages are released. sysUnused marks no
 *   edges of its own.
 *
 * Simplified: requests over half a huge page take whole slabs, best fit (jemalloc would send
 * them to its page allocator, not the HPA); ages are addresses; the purge amount comes from the
 * Go scavenger's pacing, not from `hpa_dirty_mult`, so every policy gives back the same bytes
 * and differs only in which.
 */
import { FrameRuns, bestFitAligned } from './frames';
import type { HeapPolicy, PolicyHeap } from './types';

export const HUGIFY_THRESHOLD = 0.95;
export const HUGIFY_DELAY_MS = 10_000;

export function hpaPolicy(opts: { hugifyDelayMs?: number; collapse?: boolean } = {}): HeapPolicy {
  let heap: PolicyHeap;
  let frames: FrameRuns;
  let H = 2 << 20;
  const delay = opts.hugifyDelayMs ?? HUGIFY_DELAY_MS;
  const collapse = opts.collapse ?? true;
  /** Per slab: when it became eligible (NaN: not eligible), and whether it is hugified. */
  let since = new Float64Array(0);
  let huge = new Uint8Array(0);
  const fit = () => {
    const n = frames.count;
    if (n <= since.length) return;
    const s = new Float64Array(n).fill(NaN);
    s.set(since);
    const h = new Uint8Array(n);
    h.set(huge);
    since = s;
    huge = h;
  };
  const cls = (pages: number) => (pages <= 0 ? -1 : Math.floor(Math.log2(pages)));
  /** The program clock as last ticked: the time a change happens at. */
  let now = 0;
  return {
    name: 'hpa',
    release: 'dontneed',
    nohugepageEdges: false,
    attach(h) {
      heap = h;
      H = h.physHugePageSize || 2 << 20;
      frames = new FrameRuns(h, H);
    },
    grown(v, n) {
      frames.touch(v, v + n);
      fit();
    },
    changed(base, end) {
      frames.touch(base, end);
      fit();
      const first = Math.max(0, Math.floor((base - heap.arenaBase) / H));
      const last = Math.min(frames.count - 1, Math.floor((end - 1 - heap.arenaBase) / H));
      for (let i = first; i <= last; i++) {
        if (huge[i]) continue;
        const inUse = heap.frameInUse(i);
        if (inUse >= HUGIFY_THRESHOLD * H) since[i] = now; // (re)allowed, the timestamp reset
        else if (inUse === 0) since[i] = NaN; // an empty slab is not worth hugifying
      }
    },
    place(npages) {
      const bytes = npages * heap.pageSize;
      if (bytes > H / 2) return bestFitAligned(heap, Math.ceil(bytes / H) * H, H) ?? 'grow';
      const want = cls(npages);
      let pick = -1;
      let pickCls = Infinity;
      for (let i = 0; i < frames.count; i++) {
        const lf = frames.longestFree(i);
        if (lf < npages) continue;
        const c = Math.max(cls(lf), want);
        if (c < pickCls) {
          pick = i;
          pickCls = c;
        }
      }
      if (pick < 0) return 'grow';
      return frames.runs(pick).find((r) => r.npages >= npages)!.base;
    },
    tick(nowMs) {
      now = nowMs;
      if (heap.physHugePageSize === 0) return;
      fit();
      for (let i = 0; i < frames.count; i++) {
        if (huge[i] || Number.isNaN(since[i]) || now - since[i] < delay) continue;
        const base = frames.base(i);
        heap.sysHugePage(base, H);
        if (collapse) {
          try {
            heap.sysCollapse(base, H);
          } catch {
            // The kernel may refuse (EAGAIN: no huge page free now); khugepaged will try later.
          }
        }
        huge[i] = 1;
        since[i] = NaN;
      }
    },
    scavenge(nbytes) {
      fit();
      const order: { i: number; empty: boolean; dirty: number }[] = [];
      for (let i = 0; i < frames.count; i++) {
        if (heap.frameInUse(i) === H) continue;
        const dirty = heap.dirtyIn(frames.base(i), frames.base(i) + H);
        if (dirty > 0) order.push({ i, empty: heap.frameInUse(i) === 0, dirty });
      }
      order.sort((a, b) => (a.empty !== b.empty ? (a.empty ? -1 : 1) : b.dirty - a.dirty || b.i - a.i));
      let released = 0;
      for (const { i } of order) {
        if (released >= nbytes) break;
        const base = frames.base(i);
        if (huge[i]) {
          heap.sysNoHugePage(base, H); // dehugify before purging
          huge[i] = 0;
        }
        released += heap.releaseRange(base, base + H);
        since[i] = NaN; // purged: no longer allowed to hugify
      }
      return released;
    },
  };
}
