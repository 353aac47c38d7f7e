/**
 * The khugepaged model on real memory: no scan before scan_sleep_millisecs of program time, at
 * most pages_to_scan / 512 frames a scan, and only frames with a young page collapsed — the
 * kernel's frame truth (PAGEMAP_SCAN) says which frames ended huge.
 */
import { Khugepaged } from '../../src/lab/khugepaged';
import { LinuxMemory } from '../../src/sys/linux';
import { frameTruth } from '../../src/verify/frames';
import { thpSettings } from '../../src/native/host';
import type { RuntimeHeap } from '../../src/heap/runtime-heap';
import { exactReason, itUnless } from '../support/thp';

const H = 2 << 20;
const FRAMES = 4;
const k = thpSettings().khugepaged;
const reason = exactReason ?? ((k.pages_to_scan ?? 4096) < FRAMES * 512 ? `khugepaged pages_to_scan ${k.pages_to_scan} < ${FRAMES * 512}: a scan cannot visit the test's ${FRAMES} frames` : undefined);

describe('khugepaged model', () => {
  itUnless(reason, 'scans on the program clock, within its budget, and collapses only frames with a young page', () => {
    const mem = new LinuxMemory();
    try {
      const base = mem.reserve(FRAMES * H, H);
      mem.commit(base, FRAMES * H);
      // Present on 4 KiB pages, then eligible: what khugepaged finds after a fallback fault.
      mem.madvise(base, FRAMES * H, 'nohugepage');
      mem.touch(base, FRAMES * H);
      mem.madvise(base, FRAMES * H, 'hugepage');
      expect(frameTruth(base, base + FRAMES * H, H).frames.map((f) => [f.huge, f.eligible])).toEqual(Array(FRAMES).fill([false, true]));
      // The model needs only the arena's place and the OS layer's memory.
      const heap = { physHugePageSize: H, physPageSize: 4096, arenaBase: base, heapSys: FRAMES * H, sys: { mem } } as unknown as RuntimeHeap;
      const kh = new Khugepaged(heap);
      const { scanSleepMs, pagesToScan } = kh.stats.knobs;
      kh.touched(base, 4096); // frame 0 young
      kh.touched(base + 2 * H + 8192, 8192); // frame 2 young
      kh.tick(scanSleepMs - 1);
      expect(kh.stats.scans).toBe(0); // it sleeps first
      kh.tick(scanSleepMs);
      expect(kh.stats.scans).toBe(1);
      expect(kh.stats.visited).toBe(Math.min(FRAMES, Math.floor(pagesToScan / 512)));
      expect(kh.stats.skipped.notYoung).toBe(2);
      const refused = Object.values(kh.stats.kernel).reduce((a, b) => a + b, 0);
      expect(kh.stats.collapsed + refused).toBe(2);
      const huge = frameTruth(base, base + FRAMES * H, H).frames.map((f) => f.huge);
      expect([huge[1], huge[3]]).toEqual([false, false]); // never young: never collapsed
      expect(huge.filter(Boolean)).toHaveLength(kh.stats.collapsed);
      expect(huge[0] || huge[2]).toBe(true); // the young frames collapsed (a refusal of both is EAGAIN twice: no huge page free)
      // The next scan finds nothing young: the visit cleared the bits it read.
      kh.tick(2 * scanSleepMs);
      expect(kh.stats.scans).toBe(2);
      expect(kh.stats.collapsed + Object.values(kh.stats.kernel).reduce((a, b) => a + b, 0)).toBe(2);
    } finally {
      mem.close();
    }
  });
});
