/**
 * khugepaged on the lab's program clock (`mm/khugepaged.c`: `khugepaged_do_scan`,
 * `hpage_collapse_scan_pmd`): every `scan_sleep_millisecs` of program time one scan visits
 * `pages_to_scan` base pages' worth of the arena (512 per huge page frame), frame by frame from
 * where the last scan stopped, wrapping at the arena's end. A frame is collapsed (MADV_COLLAPSE:
 * the kernel's own collapse path, asked synchronously) when it is eligible and not `nh`, not
 * already huge, has at most `max_ptes_none` pages absent, and holds a young page — one the
 * program touched since khugepaged last visited the frame (`SCAN_LACK_REFERENCED_PAGE`
 * otherwise). Invariant: a scan visits at most pages_to_scan / 512 frames.
 *
 * Simplified: the program's only accesses are the writes that follow each allocation (the lab's
 * workloads do not read their live memory during the run), so "young" means "allocated into since
 * the last visit"; `max_ptes_shared` and `max_ptes_swap` never bind (the arena is private to one
 * process and nothing is swapped); the scan's cost is a frame's 512 pages whatever is in it.
 */
import type { RuntimeHeap } from '../heap/runtime-heap';
import { thpSettings } from '../native/host';
import { frameTruth } from '../verify/frames';

export interface KhugepagedStats {
  scans: number;
  /** Frames visited (each costs 512 of pages_to_scan). */
  visited: number;
  collapsed: number;
  already: number;
  skipped: { nh: number; notEligible: number; notResident: number; notYoung: number };
  /** MADV_COLLAPSE refused: errno code -> frames. */
  kernel: Record<string, number>;
  /** The knobs used (from this host's sysfs, else the kernel's defaults). */
  knobs: { pagesToScan: number; scanSleepMs: number; maxPtesNone: number };
}

export class Khugepaged {
  readonly stats: KhugepagedStats;
  private young = new Uint8Array(0);
  private cursor = 0;
  private next: number;
  private readonly framesPerScan: number;

  constructor(private readonly heap: RuntimeHeap, start = 0) {
    const k = thpSettings().khugepaged;
    const perFrame = heap.physHugePageSize / heap.physPageSize || 512;
    const knobs = { pagesToScan: k.pages_to_scan ?? perFrame * 8, scanSleepMs: k.scan_sleep_millisecs ?? 10_000, maxPtesNone: k.max_ptes_none ?? perFrame - 1 };
    this.framesPerScan = Math.max(1, Math.floor(knobs.pagesToScan / perFrame));
    this.next = start + knobs.scanSleepMs;
    this.stats = { scans: 0, visited: 0, collapsed: 0, already: 0, skipped: { nh: 0, notEligible: 0, notResident: 0, notYoung: 0 }, kernel: {}, knobs };
  }

  /** The program wrote [base, base + bytes): its frames are young. */
  touched(base: number, bytes: number): void {
    const h = this.heap.physHugePageSize;
    if (h === 0) return;
    const first = Math.floor((base - this.heap.arenaBase) / h);
    const last = Math.floor((base + bytes - 1 - this.heap.arenaBase) / h);
    if (last >= this.young.length) {
      const y = new Uint8Array(Math.max(last + 1, 2 * this.young.length));
      y.set(this.young);
      this.young = y;
    }
    this.young.fill(1, first, last + 1);
  }

  /** Run every scan the clock has reached. */
  tick(now: number): void {
    while (now >= this.next) {
      this.scan();
      this.next += this.stats.knobs.scanSleepMs;
    }
  }

  private scan(): void {
    const { heap } = this;
    const h = heap.physHugePageSize;
    const frames = Math.floor(heap.heapSys / h);
    this.stats.scans++;
    if (h === 0 || frames === 0) return;
    const minPresent = Math.max(1, h / heap.physPageSize - this.stats.knobs.maxPtesNone) * heap.physPageSize;
    for (let n = 0; n < Math.min(this.framesPerScan, frames); n++) {
      if (this.cursor >= frames) this.cursor = 0;
      const i = this.cursor++;
      const base = heap.arenaBase + i * h;
      const [f] = frameTruth(base, base + h, h).frames;
      const young = this.young[i] === 1;
      this.young[i] = 0; // the visit clears the accessed bits it read
      this.stats.visited++;
      if (f.huge) this.stats.already++;
      else if (f.nh) this.stats.skipped.nh++;
      else if (!f.eligible) this.stats.skipped.notEligible++;
      else if (f.presentBytes < minPresent) this.stats.skipped.notResident++;
      else if (!young) this.stats.skipped.notYoung++;
      else {
        try {
          heap.sys.mem.madvise(base, h, 'collapse');
          this.stats.collapsed++;
        } catch (e) {
          const code = String((e as { code?: string }).code ?? 'UNKNOWN');
          this.stats.kernel[code] = (this.stats.kernel[code] ?? 0) + 1;
        }
      }
    }
  }
}
