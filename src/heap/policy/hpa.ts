/**
 * `hpa`: jemalloc's hugepage-aware allocator (jemalloc 5.3.0, 2022: `src/hpa.c`
 * `hpa_try_alloc_batch_no_grow`, `hpa_shard_maybe_do_deferred_work`, `hpa_try_hugify`,
 * `hpa_try_purge`; `src/psset.c` `psset_pick_alloc`, `psset_pick_purge`; `include/jemalloc/
 * internal/hpdata.h`; options `hpa_slab_max_alloc` 64 KiB, `hpa_hugification_threshold` 95 %,
 * `hpa_hugify_delay_ms` 10 000, `hpa_dirty_mult` 25 %, `hpa_min_purge_interval_ms` 5 000).
 *
 * - A request over `hpa_slab_max_alloc` (64 KiB) is not the HPA's: jemalloc's other page
 *   allocator (PAC) serves it from extents no slab uses, first fit by address; a frame holding
 *   any of it is the PAC's until it empties: no slab allocation goes there, it is never hugified.
 * - Each huge page is a slab (`hpdata`). A request of at most 64 KiB goes to the slab
 *   whose longest free run is in the smallest power-of-two class that fits (psset's bins), the
 *   oldest (lowest address) among them, at the first fitting run inside it (first fit).
 * - A slab changed while its in-use share is at least 95 % becomes eligible, its timestamp set to
 *   now (`hpa_update_purge_hugify_eligibility` → `hpdata_allow_hugify`, again at every such change);
 *   once the hugify delay (10 s of program time) has passed since, it is hugified: MADV_HUGEPAGE,
 *   then MADV_COLLAPSE so the kernel backs it now (jemalloc's `hpa_hugify_sync` variant; plain 5.3
 *   leaves the collapse to khugepaged). Falling below 95 % keeps it eligible, as jemalloc does;
 *   emptying the slab or purging it clears it (`hpdata_disallow_hugify`).
 * - Purging picks slabs with the most dirty (free, unreleased) memory, empty slabs first; a
 *   hugified slab is dehugified (MADV_NOHUGEPAGE on the whole slab) before its dirty pages are
 *   released. It runs when the heap's scavenger asks (the Go pacing every policy shares) and on
 *   jemalloc's own rule: when the slabs' dirty bytes exceed `hpa_dirty_mult` (25 %) of their
 *   active bytes (`hpa_should_purge`), at most once per `hpa_min_purge_interval_ms` (5 s of
 *   program time). sysUnused marks no edges of its own.
 *
 * Simplified: ages are addresses; PAC extents are purged by the same walk (jemalloc's PAC decays
 * them over 10 s).
 */
import { FrameRuns } from './frames';
import type { HeapPolicy, PolicyHeap } from './types';

export const HUGIFY_THRESHOLD = 0.95;
export const HUGIFY_DELAY_MS = 10_000;
/** hpa_slab_max_alloc: larger requests go to jemalloc's page allocator (PAC), not a slab. */
export const SLAB_MAX_ALLOC = 64 << 10;
/** hpa_dirty_mult: purge while dirty > this share of active. */
export const DIRTY_MULT = 0.25;
/** hpa_min_purge_interval_ms: jemalloc's own purging at most this often. */
export const MIN_PURGE_INTERVAL_MS = 5_000;

export function hpaPolicy(opts: { hugifyDelayMs?: number; collapse?: boolean } = {}): HeapPolicy {
  let heap: PolicyHeap;
  let frames: FrameRuns;
  let H = 2 << 20;
  const delay = opts.hugifyDelayMs ?? HUGIFY_DELAY_MS;
  const collapse = opts.collapse ?? true;
  /** Per slab: when it became eligible (NaN: not eligible), and whether it is hugified. */
  let since = new Float64Array(0);
  let huge = new Uint8Array(0);
  /** Frames jemalloc's page allocator holds extents in: no slab there, never hugified. */
  let pac = new Uint8Array(0);
  /** The PAC extent place() just chose, marked when the heap reports the change. */
  let placing: [number, number] | null = null;
  const fit = () => {
    const n = frames.count;
    if (n <= since.length) return;
    const s = new Float64Array(n).fill(NaN);
    s.set(since);
    const h = new Uint8Array(n);
    h.set(huge);
    const p = new Uint8Array(n);
    p.set(pac);
    since = s;
    huge = h;
    pac = p;
  };
  const frameOf = (addr: number) => Math.floor((addr - heap.arenaBase) / H);
  /** A slab frame: holds slab allocations (in use and not the PAC's). */
  const slab = (i: number) => !pac[i] && heap.frameInUse(i) > 0;
  /** The PAC's first fit: the lowest address where `bytes` fit in free memory that crosses no slab frame. */
  const pacPlace = (bytes: number): number | 'grow' => {
    for (const f of heap.freeSpans()) {
      let a = f.base;
      while (a + bytes <= f.end) {
        let blocked = -1;
        for (let i = frameOf(a); i <= frameOf(a + bytes - 1); i++) if (slab(i)) blocked = i;
        if (blocked < 0) return a;
        a = frames.base(blocked) + H;
      }
    }
    return 'grow';
  };
  /** Release slabs' dirty memory, most dirty first (empty slabs first), until `nbytes` went. */
  const purge = (nbytes: number): number => {
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
  };
  const cls = (pages: number) => (pages <= 0 ? -1 : Math.floor(Math.log2(pages)));
  /** The program clock as last ticked: the time a change happens at. */
  let now = 0;
  /** When jemalloc's own rule last purged. */
  let lastPurge = -Infinity;
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
      const isPac = placing !== null && placing[0] === base && placing[1] === end;
      placing = null;
      for (let i = first; i <= last; i++) {
        if (isPac) pac[i] = 1;
        else if (pac[i] && heap.frameInUse(i) === 0) pac[i] = 0; // the PAC's extents left: a slab may use it again
        if (pac[i]) {
          since[i] = NaN;
          continue;
        }
        if (huge[i]) continue;
        const inUse = heap.frameInUse(i);
        if (inUse >= HUGIFY_THRESHOLD * H) since[i] = now; // (re)allowed, the timestamp reset
        else if (inUse === 0) since[i] = NaN; // an empty slab is not worth hugifying
      }
    },
    place(npages) {
      const bytes = npages * heap.pageSize;
      fit();
      if (bytes > SLAB_MAX_ALLOC) {
        const at = pacPlace(bytes);
        if (at !== 'grow') placing = [at, at + bytes];
        return at;
      }
      const want = cls(npages);
      let pick = -1;
      let pickCls = Infinity;
      for (let i = 0; i < frames.count; i++) {
        if (pac[i]) continue;
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
      // hpa_should_purge: the slabs' dirty memory over hpa_dirty_mult of their active memory,
      // checked no more often than hpa_min_purge_interval_ms.
      if (now - lastPurge >= MIN_PURGE_INTERVAL_MS) {
        let active = 0;
        let dirty = 0;
        for (let i = 0; i < frames.count; i++) {
          if (pac[i]) continue;
          active += heap.frameInUse(i);
          dirty += heap.dirtyIn(frames.base(i), frames.base(i) + H);
        }
        if (dirty > DIRTY_MULT * active) {
          purge(dirty - DIRTY_MULT * active);
          lastPurge = now;
        }
      }
      for (let i = 0; i < frames.count; i++) {
        if (pac[i] || huge[i] || Number.isNaN(since[i]) || now - since[i] < delay) continue;
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
      return purge(nbytes);
    },
  };
}
