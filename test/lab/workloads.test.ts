/**
 * Each workload under the lab on real memory: the run completes, the heap's count of free huge
 * pages equals its recount, and the op stream has the shape the workload promises (recorded as
 * a trace, so the shape is read from what ran, not from the generator alone).
 */
import { runLab, LabOptions } from '../../src/lab/run';
import { WORKLOAD_NAMES, WorkloadName } from '../../src/lab/workload';
import type { TraceEvent } from '../../src/lab/trace';

const base = { policy: 'coalesce', thp: 'always', arenaBytes: 64 << 20, ops: 3000, seed: 5, reads: 1000 } as const;

/** The run, and the live pages after every op of it. */
function run(workload: WorkloadName) {
  const events: TraceEvent[] = [];
  const r = runLab({ ...base, workload } as LabOptions, undefined, { record: (e) => void events.push(e) });
  const size = new Map<number, number>();
  let pages = 0;
  const curve: number[] = [];
  for (const e of events) {
    if (e.op === 'alloc') {
      size.set(e.id, e.pages);
      pages += e.pages;
    } else if (e.op === 'free') pages -= size.get(e.id)!;
    curve.push(pages);
  }
  return { r, events, curve };
}

describe('lab workloads on real memory', () => {
  it.each(WORKLOAD_NAMES)('%s: count == recount, every op recorded', (w) => {
    const { r, events } = run(w);
    expect(r.options.workload).toBe(w);
    expect(events).toHaveLength(base.ops);
    expect(r.ops.allocs + r.ops.exhausted).toBe(events.filter((e) => e.op === 'alloc').length);
    expect(r.verification.free.recount).toBe(r.verification.free.claimed);
    expect(r.runtime.gcCycles).toBeGreaterThan(0);
  });

  it('steady: many small spans, a live set that holds', () => {
    const { events, curve } = run('steady');
    const allocs = events.filter((e): e is Extract<TraceEvent, { op: 'alloc' }> => e.op === 'alloc');
    expect(allocs.filter((e) => e.pages <= 4).length / allocs.length).toBeGreaterThan(0.85);
    // After warm-up the live set stays within a band: no phase, no collapse to zero.
    const tail = curve.slice(Math.floor(curve.length * 0.7));
    expect(Math.min(...tail)).toBeGreaterThan(0.8 * Math.max(...tail));
  });

  it('phase: grows to a peak, frees most of it (then a GC), grows again', () => {
    const { events, curve } = run('phase');
    const peak = Math.max(...curve.slice(0, Math.floor(base.ops * 0.4)));
    const low = Math.min(...curve.slice(Math.floor(base.ops * 0.4), Math.floor(base.ops * 0.6)));
    const end = curve[curve.length - 1];
    expect(low).toBeLessThan(0.3 * peak);
    expect(end).toBeGreaterThan(2 * low);
    expect(events[Math.floor(base.ops * 0.6)]).toEqual({ op: 'gc' });
  });
});
