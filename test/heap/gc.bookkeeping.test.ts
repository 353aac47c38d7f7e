/**
 * The GC cycle model (src/heap/gc.ts) against Go 1.13's mgc.go: gcinit's first trigger at
 * heapminimum, next_gc = marked × (1 + GOGC/100), trigger = marked × (1 + 7/8), the sweep of dead
 * spans in address order, and gcPaceScavenger at every cycle (goal 1.1 × next_gc).
 */
import { GcModel, DEFAULT_HEAP_MINIMUM } from '../../src/heap/gc';
import { BackgroundScavenger } from '../../src/heap/scavenger';
import { MiB, rig, thrown } from './helpers';

const P = 8192;

describe('GcModel', () => {
  it('starts as gcinit: first trigger at heapminimum (4 MiB at GOGC=100), goal 2 × heapminimum / 1.875', () => {
    const { heap } = rig();
    const gc = new GcModel(heap);
    expect(gc.trigger).toBe(DEFAULT_HEAP_MINIMUM);
    const fakeMarked = Math.floor(DEFAULT_HEAP_MINIMUM / (1 + 7 / 8));
    expect(gc.nextGC).toBe(fakeMarked + fakeMarked);
    expect(new GcModel(heap, { gogc: 50 }).trigger).toBe(DEFAULT_HEAP_MINIMUM / 2);
    expect(new GcModel(heap, { gogc: -1 }).trigger).toBe(Infinity);
    expect(thrown(() => new GcModel(heap, { gogc: 1.5 })).code).toBe('ERR_INVALID_ARG_VALUE');
  });

  it('triggers when heap_live reaches the trigger; a cycle marks the live spans, sweeps the dead, sets goal and trigger', () => {
    const { heap } = rig();
    const gc = new GcModel(heap);
    const spans = [];
    let due = false;
    while (!due) {
      const s = heap.alloc(64); // 512 KiB
      spans.push(s);
      due = gc.allocated(s);
    }
    expect(gc.heapLive).toBeGreaterThanOrEqual(gc.trigger);
    expect(spans.length).toBe(8); // 4 MiB
    for (const s of spans.slice(0, 6)) gc.died(s);
    expect(heap.heapInuse).toBe(4 * MiB); // dead spans stay in use until the sweep
    const c = gc.cycle();
    expect(c).toMatchObject({ n: 1, marked: 1 * MiB, swept: 6, sweptBytes: 3 * MiB, nextGC: 2 * MiB, trigger: 4 * MiB });
    expect(heap.heapInuse).toBe(1 * MiB);
    expect(gc.heapLive).toBe(1 * MiB);
    heap.checkInvariants();
  });

  it('goal scales with GOGC and the trigger ratio is capped at 0.95 × GOGC/100', () => {
    const { heap } = rig({ arenaBytes: 256 * MiB });
    const gc = new GcModel(heap, { gogc: 50 });
    heap.alloc((40 * MiB) / P);
    const c = gc.cycle();
    expect(c.nextGC).toBe(60 * MiB);
    expect(gc.triggerRatio).toBeCloseTo(0.475, 9);
    expect(c.trigger).toBe(Math.floor(40 * MiB * 1.475));
  });

  it('paces the scavenger at every cycle: retained goal 1.1 × next_gc, published to the heap', () => {
    const { heap } = rig({ arenaBytes: 256 * MiB });
    const scav = new BackgroundScavenger(heap, { heapGoal: 0, now: () => 0 });
    const gc = new GcModel(heap);
    const goals: number[] = [];
    gc.onPace((g) => {
      scav.pace(g);
      goals.push(g);
    });
    heap.alloc((20 * MiB) / P);
    gc.cycle();
    expect(goals.at(-1)).toBe(40 * MiB);
    expect(scav.retainedGoal).toBe(44 * MiB);
    expect(heap.scavengeRetainedGoal).toBe(44 * MiB);
  });

  it('refuses to let a span die twice or after it was freed', () => {
    const { heap } = rig();
    const gc = new GcModel(heap);
    const [s, t] = [heap.alloc(1), heap.alloc(1)];
    gc.died(t);
    expect(thrown(() => gc.died(t)).code).toBe('ERR_HUGESPAN_STALE_SPAN');
    heap.free(s);
    expect(thrown(() => gc.died(s)).code).toBe('ERR_HUGESPAN_STALE_SPAN');
    gc.cycle();
    heap.checkInvariants();
  });
});
