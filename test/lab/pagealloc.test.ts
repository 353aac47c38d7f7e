/**
 * The page heap under the lab on real memory: the same workload as the treap heap, the runtime's
 * GC and scavenger around it, and its count of free huge pages checked against the kernel's.
 */
import { runLab, LabOptions } from '../../src/lab/run';
import { itExact } from '../support/thp';

const base: LabOptions = { policy: 'coalesce', thp: 'always', arenaBytes: 64 << 20, ops: 3000, seed: 5, reads: 1000 };

describe('lab: the page heap on real memory', () => {
  it('runs the treap heap\'s workload, under the same runtime, with count == recount', () => {
    const pages = runLab({ ...base, heap: 'pagealloc' });
    const treap = runLab({ ...base, heap: 'treap' });
    expect(pages.options.heap).toBe('pagealloc');
    // The workload does not depend on the heap (how often the scavenger found work does).
    const { scavenges: _a, ...pageOps } = pages.ops;
    const { scavenges: _b, ...treapOps } = treap.ops;
    expect(pageOps).toEqual(treapOps);
    expect(pages.runtime.gcCycles).toBeGreaterThan(0);
    expect(pages.runtime.released.background + pages.runtime.released.onAlloc).toBeGreaterThan(0);
    expect(pages.verification.free.recount).toBe(pages.verification.free.claimed);
    expect(pages.heap.heapInuse).toBeGreaterThan(0);
  });

  itExact('its count of free huge pages is the kernel\'s (PAGEMAP_SCAN), and it has some to count', () => {
    const r = runLab({ ...base, heap: 'pagealloc', seed: 9 });
    expect(r.verification.free.claimed).toBeGreaterThan(0);
    expect(r.verification.free.backed).toBe(r.verification.free.claimed);
    expect(r.verification.countMinusTruth).toBe(0);
    // Frees re-advise whole frames hugepage: the policy acted.
    expect(r.calls.hugepage).toBeGreaterThan(0);
  });
});
