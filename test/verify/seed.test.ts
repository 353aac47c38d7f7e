/**
 * The seed's scenario on real memory (go-runtime-sysHugePage-31c4e09): neighbouring spans
 * with unaligned edges; the middle one is freed, scavenged (its edge frames get `nh`),
 * reallocated; then all are freed and coalesce into one free, unscavenged span. With the
 * `coalesce` policy the heap's huge page count comes true after a collapse pass; without it
 * (`none`) frames stay `nh`, the kernel cannot back them, and the count overstates the truth.
 */
import { MHeap } from '../../src/heap/mheap';
import { Sys } from '../../src/sys/sys';
import { LinuxMemory } from '../../src/sys/linux';
import { verify, collapse } from '../../src/verify';
import { readSmaps } from '../../src/native/smaps';
import { hugePageSize } from '../../src/native/host';
import { itExact, MiB } from '../support/thp';

const H = hugePageSize() || 2 * MiB;
const PAGE = 8192;
const pages = (bytes: number) => bytes / PAGE;

function scenario(policy: 'coalesce' | 'none') {
  const mem = new LinuxMemory();
  try {
    return steps(mem, policy);
  } finally {
    mem.close();
  }
}

function steps(mem: LinuxMemory, policy: 'coalesce' | 'none') {
  const heap = new MHeap(new Sys(mem, { thp: 'always' }), { arenaBytes: 64 * MiB, growBytes: 32 * MiB, pageSize: PAGE, policy });
  // [0, 1.5H) [1.5H, 3.5H) [3.5H, 5H): every inner edge falls mid-frame.
  const a = heap.alloc(pages(1.5 * H));
  let b = heap.alloc(pages(2 * H));
  const c = heap.alloc(pages(1.5 * H));
  for (const s of [a, b, c]) mem.touch(s.base, s.bytes);
  expect(b.base - a.base).toBe(1.5 * H);

  heap.free(b);
  expect(heap.scavenge(2 * H)).toBeGreaterThanOrEqual(2 * H);
  const nhAfterScavenge = nhFrames(a.base, c.end);
  b = heap.alloc(pages(2 * H));
  expect(b.base).toBe(a.base + 1.5 * H); // first fit: the same place
  mem.touch(b.base, b.bytes);

  const calls = { ...heap.sys.calls };
  heap.free(a);
  heap.free(b);
  heap.free(c);
  const merged = heap.spanOf(a.base)!;
  expect({ base: merged.base, end: merged.end, state: merged.state, scavenged: merged.scavenged }).toEqual({ base: a.base, end: c.end, state: 'free', scavenged: false });
  const hugepageCalls = heap.sys.calls.hugepage - calls.hugepage;
  const before = verify(heap);
  const pass = collapse(heap);
  const after = verify(heap);
  const anonHuge = readSmaps().filter((v) => v.start < merged.end && v.end > merged.base).reduce((n, v) => n + v.anonHugePages, 0);
  return { heap, merged, nhAfterScavenge, nhAfterMerge: nhFrames(merged.base, merged.end), hugepageCalls, before, pass, after, anonHuge };
}

// Frames in [start, end) whose VMA says nh.
function nhFrames(start: number, end: number): number {
  const vmas = readSmaps();
  let n = 0;
  for (let f = start; f < end; f += H) if (vmas.find((v) => v.start <= f && f < v.end)?.vmFlags.includes('nh')) n++;
  return n;
}

describe("the seed's scenario", () => {
  itExact('coalesce: no nh left in the merged span, every counted huge page eligible, and after collapse the kernel backs them all', () => {
    const r = scenario('coalesce');
    expect(r.nhAfterScavenge).toBe(2); // sysUnused marked both edge frames of the middle span
    expect(r.merged.hugePages()).toBe(5);
    expect(r.before.free.claimed).toBe(5);
    expect(r.nhAfterMerge).toBe(0);
    expect(r.hugepageCalls).toBe(2); // the policy fired on the two merges that made new huge pages
    expect(r.before.countMinusEligible).toBe(0);
    expect(r.pass.refused.nh).toBe(0);
    expect(r.after.free.backed).toBe(5);
    expect(r.after.countMinusTruth).toBe(0);
    expect(r.anonHuge).toBe(5 * H);
  });

  itExact('none: the edge frames stay nh, collapse cannot back them, the count exceeds the truth', () => {
    const r = scenario('none');
    expect(r.nhAfterScavenge).toBe(2);
    expect(r.before.free.claimed).toBe(5);
    expect(r.nhAfterMerge).toBe(2);
    expect(r.hugepageCalls).toBe(0);
    expect(r.before.countMinusEligible).toBe(2);
    expect(r.pass.refused.nh).toBe(2);
    expect(r.after.free.backed).toBe(3);
    expect(r.after.countMinusTruth).toBe(2);
    expect(r.anonHuge).toBe(3 * H);
  });
});
