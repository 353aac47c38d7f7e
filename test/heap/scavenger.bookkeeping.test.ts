/**
 * scavenge() releases from the top, huge-page spans first, without splitting huge pages; the
 * background scavenger follows Go 1.13's bgscavenge: the pacing line down to 1.1 × the heap goal,
 * one scavenge per step, 100 µs minimum sleep, exponential retry, parked until re-paced; and it
 * leaves no timer behind.
 */
import { BackgroundScavenger, startScavenger } from '../../src/heap/scavenger';
import type { MHeap } from '../../src/heap/mheap';
import { KiB, MiB, rig } from './helpers';

const H = 2 * MiB;
const P = 8 * KiB;

describe('scavenge', () => {
  it('takes spans holding a huge page first, even below smaller ones, trimming whole huge pages from the top', () => {
    const { heap, mem, sys } = rig();
    const [a, , b] = [heap.alloc(512), heap.alloc(1), heap.alloc(16), heap.alloc(1)];
    const [aBase, bBase] = [a.base, b.base];
    heap.free(a); // [0, 4 MiB): two huge pages
    heap.free(b); // higher, but holds none
    expect(heap.freeHugePages).toBe(2);
    expect(heap.scavenge(P)).toBe(H); // one page asked; the whole top huge page goes
    expect(heap.spanOf(aBase + H)).toMatchObject({ base: aBase + H, scavenged: true });
    expect(heap.spanOf(bBase)?.scavenged).toBe(false);
    expect(sys.calls.nohugepage).toBe(0); // both ends huge-page aligned
    expect(heap.freeHugePages).toBe(1);

    expect(heap.scavenge(H + P)).toBe(H + P); // the rest of a, then one page off b's top
    expect(heap.spanOf(bBase + 15 * P)).toMatchObject({ npages: 1, scavenged: true });
    expect(heap.spanOf(bBase)).toMatchObject({ npages: 15, scavenged: false });
    expect(mem.frameFlags(bBase)).toBe('nh'); // b's last page is mid huge page
    heap.checkInvariants();
  });

  it('goes from the highest address down', () => {
    const { heap } = rig();
    const spans = [600, 1, 600, 1].map((n) => heap.alloc(n)); // both free spans will hold a huge page
    const [low, high] = [spans[0].base, spans[2].base];
    heap.free(spans[0]);
    heap.free(spans[2]);
    heap.scavenge(P);
    expect(heap.spanOf(high + 599 * P)?.scavenged).toBe(true);
    expect(heap.spanOf(high)?.scavenged).toBe(false);
    expect(heap.spanOf(low + 599 * P)?.scavenged).toBe(false);
  });

  it('releases single pages on a host without huge pages', () => {
    const { heap, sys } = rig({}, { physHugePageSize: 0 });
    const [a] = [heap.alloc(40), heap.alloc(1)];
    heap.free(a);
    expect(heap.scavenge(1)).toBe(P);
    expect([sys.calls.nohugepage, sys.calls.free]).toEqual([0, 1]);
  });

  it('scavengeAll releases every free page', () => {
    const { heap } = rig();
    const spans = [5, 600, 7, 1000, 3].map((n) => heap.alloc(n));
    [0, 1, 3].forEach((i) => heap.free(spans[i]));
    heap.scavengeAll();
    expect(heap.heapFree).toBe(0);
    expect(heap.freeHugePages).toBe(0);
    expect(heap.retained).toBe(heap.heapInuse);
    heap.checkInvariants();
  });
});

/** 48 MiB free and unscavenged at the bottom of a 64 MiB mapping; one page in use above it. */
function backlog(): MHeap {
  const { heap } = rig({ arenaBytes: 256 * MiB, growBytes: 64 * MiB });
  const spans = Array.from({ length: 24 }, () => heap.alloc(H / P));
  heap.alloc(1);
  spans.forEach((s) => heap.free(s));
  return heap;
}

describe('BackgroundScavenger', () => {
  it('paces as the runtime: one huge page or one OS page per millisecond, towards 1.1 × the heap goal', () => {
    const heap = backlog();
    let t = 0;
    const scav = new BackgroundScavenger(heap, { heapGoal: 8 * MiB, now: () => t });
    const goal = Math.ceil((8.8 * MiB) / 4096) * 4096;
    expect(scav.retainedGoal).toBe(goal);
    const work = heap.retained - goal;
    const hugePages = Math.min(heap.freeHugePages, Math.floor(work / H)); // 19 of the 24
    const totalMs = hugePages + Math.ceil((work - hugePages * H) / 4096);
    expect(scav.bytesPerMs).toBeCloseTo(work / totalMs, 6);

    const basis = heap.retained;
    for (; t < 2 * totalMs; t++) {
      const step = scav.step();
      if (step.parked) break;
      // Never more than one huge page off the line, in either direction.
      const line = Math.max(goal, basis - scav.bytesPerMs * t);
      expect(Math.abs(heap.retained - line)).toBeLessThanOrEqual(H);
      heap.checkInvariants();
    }
    expect(t).toBeGreaterThan(totalMs * 0.9);
    expect(t).toBeLessThanOrEqual(totalMs + 2);
    expect(heap.retained).toBeLessThanOrEqual(goal);
    expect(goal - heap.retained).toBeLessThan(H);
    expect(scav.released).toBe(basis - heap.retained);
  });

  it('takes what it is behind by in one call, unclamped by the goal, then sleeps off any excess (bgscavenge)', () => {
    const heap = backlog();
    let t = 0;
    const scav = new BackgroundScavenger(heap, { heapGoal: 40 * MiB, now: () => t });
    const { retainedGoal: goal, bytesPerMs: rate } = scav;
    const basis = heap.retained;
    t = 3; // 3 ms in: want = basis − 3 × rate, one scavenge call, rounded up to whole huge pages
    const step = scav.step();
    const want = basis - 3 * rate;
    expect(step.released).toBeGreaterThanOrEqual(basis - want);
    expect(heap.retained).toBeLessThanOrEqual(want);
    const extra = step.released - (basis - want);
    expect(step.sleepMs).toBe(extra / rate > 0.1 ? extra / rate : 0); // minSleepNS = 100 µs, else Gosched
    expect(goal).toBe(Math.ceil((44 * MiB) / 4096) * 4096);
  });

  it('past the line\'s end (want < 0) releases nothing, as the runtime\'s uint64 want wraps, not everything', () => {
    const heap = backlog();
    let t = 0;
    const scav = new BackgroundScavenger(heap, { heapGoal: 40 * MiB, now: () => t });
    const { bytesPerMs: rate } = scav;
    const before = heap.retained;
    t = (2 * before) / rate; // want = basis − rate × t < 0
    const step = scav.step();
    expect(step.released).toBe(0);
    expect(heap.retained).toBe(before);
    expect(step.parked).toBe(false);
    expect(step.sleepMs).toBeCloseTo(0.1); // the retry sleep, as after any step that released nothing
  });

  it('parks at the goal and stays parked until the next pacing (the next GC), even when retained grows', () => {
    const heap = backlog();
    let t = 0;
    const scav = new BackgroundScavenger(heap, { heapGoal: 40 * MiB, now: () => t });
    while (!scav.step().parked) t += 5;
    expect(heap.retained).toBeLessThanOrEqual(scav.retainedGoal);
    expect(scav.step()).toEqual({ released: 0, sleepMs: Infinity, parked: true });
    heap.free(heap.alloc((60 * MiB) / P)); // retained grows by up to 60 MiB
    expect(heap.retained).toBeGreaterThan(scav.retainedGoal);
    expect(scav.step().parked).toBe(true);
    scav.pace(); // gcPaceScavenger wakes it
    expect(scav.parked).toBe(false);
    expect(scav.bytesPerMs).toBeGreaterThan(0);
    t += 10;
    expect(scav.step().released).toBeGreaterThan(0);
  });

  it('backs off exponentially from 100 µs while it releases nothing, doubling only after a full sleep', () => {
    const heap = backlog();
    heap.scavengeAll();
    heap.alloc((40 * MiB) / P); // retained is now all in use: above the goal, nothing free
    let t = 0;
    const scav = new BackgroundScavenger(heap, { heapGoal: 0, now: () => t });
    const sleeps: number[] = [];
    for (let k = 0; k < 4; k++) {
      const step = scav.step();
      sleeps.push(step.sleepMs);
      t += step.sleepMs; // a full sleep
    }
    expect(sleeps.map((x) => +x.toFixed(3))).toEqual([0.1, 0.2, 0.4, 0.8]);
    expect(scav.step().sleepMs).toBeCloseTo(1.6, 6);
    t += 0.5;
    scav.pace(); // a pacing cuts the 1.6 ms sleep short: no doubling
    expect(scav.step().sleepMs).toBeCloseTo(1.6, 6);
  });

  it('publishes its goal to the heap, which then scavenges on allocation from scavenged memory (scavengeIfNeededLocked)', () => {
    const heap = backlog(); // 48 MiB free unscavenged, 64 MiB mapped
    const scav = new BackgroundScavenger(heap, { heapGoal: 40 * MiB, now: () => 0 });
    expect(heap.scavengeRetainedGoal).toBe(scav.retainedGoal);
    expect(heap.alloc((8 * MiB) / P)).toBeDefined(); // from unscavenged memory: nothing to make up for
    expect(heap.releasedOnAlloc).toBe(0);
    heap.alloc((60 * MiB) / P); // fits only in scavenged memory: retained + 60 MiB is far over the goal
    expect(heap.releasedOnAlloc).toBe(40 * MiB); // todo = 60 MiB, but only 40 MiB are free and unscavenged
    expect(heap.heapFree).toBe(0);
    heap.checkInvariants();
  });

  describe('on its timer', () => {
    const realSetTimeout = setTimeout;
    const live = new Set<NodeJS.Timeout>();
    const sleep = (ms: number) => new Promise((resolve) => realSetTimeout(resolve, ms));

    beforeEach(() => {
      // Track the scavenger's timers: each must fire or be cleared.
      jest.spyOn(globalThis, 'setTimeout').mockImplementation(((fn: () => void, ms?: number) => {
        const timer = realSetTimeout(() => {
          live.delete(timer);
          fn();
        }, ms);
        live.add(timer);
        return timer;
      }) as typeof setTimeout);
      const realClear = clearTimeout;
      jest.spyOn(globalThis, 'clearTimeout').mockImplementation((timer) => {
        live.delete(timer as NodeJS.Timeout);
        realClear(timer);
      });
    });

    afterEach(() => {
      jest.restoreAllMocks();
    });

    it('reaches the goal in real time, unref`d, and stop() leaves no timer', async () => {
      const { heap } = rig();
      const spans = Array.from({ length: 4 }, () => heap.alloc(H / P));
      spans.forEach((s) => heap.free(s));
      // A goal above 0, as the runtime's always is: its line ends (want < 0, nothing released) well after the goal.
      const scav = startScavenger(heap, { heapGoal: 2 * MiB });
      expect(scav.running).toBe(true);
      for (let i = 0; i < 200 && heap.retained > scav.retainedGoal; i++) await sleep(5);
      expect(heap.retained).toBeLessThanOrEqual(scav.retainedGoal);
      expect([...live].every((timer) => !timer.hasRef())).toBe(true);
      await scav.stop();
      expect(scav.running).toBe(false);
      expect(live.size).toBe(0);
      await scav.stop(); // idempotent
    });

    it('stops by itself when the heap is closed', async () => {
      const { heap } = rig();
      const scav = startScavenger(heap, { heapGoal: 0 });
      heap.close();
      for (let i = 0; i < 100 && scav.running; i++) await sleep(2);
      expect(scav.running).toBe(false);
      await expect(scav.stop()).resolves.toBeUndefined();
      expect(live.size).toBe(0);
    });

    it('stops and reports a step that throws', async () => {
      const { heap } = rig();
      heap.free(heap.alloc(H / P));
      const boom = Object.assign(new Error('madvise: EINVAL'), { code: 'EINVAL' });
      jest.spyOn(heap, 'scavenge').mockImplementation(() => {
        throw boom;
      });
      const scav = startScavenger(heap, { heapGoal: 1 * MiB }); // a line of ~0.5 s: its first step scavenges
      for (let i = 0; i < 100 && scav.running; i++) await sleep(2);
      expect(scav.error).toBe(boom);
      await expect(scav.stop()).rejects.toBe(boom);
      expect(live.size).toBe(0);
    });
  });
});
