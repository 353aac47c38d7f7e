/**
 * Spans are capabilities (issue 21, item 9): a heap takes back only a span it handed out and
 * still holds in use. A copy, an Object.create(Span.prototype) with a span's fields, a span built
 * with the public constructor, a span whose fields its holder changed, one from another heap, one
 * already freed: each is refused with a code, and the heap, its OS calls and its invariants are
 * exactly as before; the heap keeps working afterwards.
 */
import { MHeap } from '../../src/heap/mheap';
import { Span } from '../../src/heap/span';
import { PageHeap } from '../../src/heap/pageheap';
import { PageSpan, PageSpans } from '../../src/heap/pagespans';
import { Sys } from '../../src/sys/sys';
import { FakeMemory } from '../../src/sys/fake';
import { MiB, rig, thrown } from './helpers';

function expectRefused(heap: MHeap | PageSpans, call: () => unknown, code: string): void {
  const snapshot = heap instanceof MHeap ? heap.snapshot() : heap.pages.snapshot();
  const calls = heap.sys.snapshotCalls();
  const e = thrown(call);
  expect(e.code).toBe(code);
  expect(heap instanceof MHeap ? heap.snapshot() : heap.pages.snapshot()).toEqual(snapshot);
  expect(heap.sys.snapshotCalls()).toEqual(calls);
  heap.checkInvariants();
}

describe('MHeap: spans are capabilities', () => {
  it("refuses the issue's forgery: Object.assign(Object.create(Span.prototype), heap.alloc(1))", () => {
    const { heap } = rig();
    const real = heap.alloc(1);
    heap.alloc(1);
    const forged = Object.assign(Object.create(Span.prototype), real) as Span;
    expectRefused(heap, () => heap.free(forged), 'ERR_INVALID_ARG_TYPE');
    // The free set is intact: later calls work and no codeless "already held" appears.
    heap.free(real);
    for (let i = 0; i < 20; i++) heap.free(heap.alloc(1 + (i % 3)));
    heap.checkInvariants();
  });

  it("refuses a span built with Span's own constructor: only the heap's span table names a held span", () => {
    const { heap } = rig();
    const real = heap.alloc(2);
    const built = new Span(heap, real.base, real.npages, 'inUse', false);
    built.slot = real.slot; // even claiming the real span's slot
    expectRefused(heap, () => heap.free(built), 'ERR_HUGESPAN_STALE_SPAN');
    heap.free(real);
  });

  it('refuses a real span whose holder changed its base, length, slot or state', () => {
    const { heap } = rig();
    heap.alloc(4);
    const s = heap.alloc(4);
    heap.alloc(4);
    const fields = { base: s.base, npages: s.npages, slot: s.slot, state: s.state };
    const snapshot = heap.snapshot();
    for (const [field, value, code] of [
      ['npages', 8, 'ERR_HUGESPAN_FOREIGN_SPAN'],
      ['npages', 1, 'ERR_HUGESPAN_FOREIGN_SPAN'],
      ['base', fields.base - 4 * heap.pageSize, 'ERR_HUGESPAN_FOREIGN_SPAN'],
      ['base', fields.base + heap.pageSize, 'ERR_HUGESPAN_FOREIGN_SPAN'],
      ['slot', fields.slot + 1, 'ERR_HUGESPAN_STALE_SPAN'],
      ['slot', 0, 'ERR_HUGESPAN_STALE_SPAN'],
    ] as const) {
      Object.assign(s, fields, { [field]: value });
      const e = thrown(() => heap.free(s));
      expect(e.code).toBe(code);
      // The span object is the heap's record of it (as an mspan is the runtime's): the holder's
      // write is undone here, and the refused free had changed nothing else.
      Object.assign(s, fields);
      expect(heap.snapshot()).toEqual(snapshot);
      heap.checkInvariants();
    }
    // The heap's records decide, not the span's word for its state.
    Object.assign(s, fields, { state: 'free' });
    heap.free(s);
    heap.checkInvariants();
    expectRefused(heap, () => heap.free(s), 'ERR_HUGESPAN_DOUBLE_FREE');
  });

  it("refuses another heap's span, and a freed one", () => {
    const { heap } = rig();
    const other = rig().heap;
    const theirs = other.alloc(1);
    expectRefused(heap, () => heap.free(theirs), 'ERR_HUGESPAN_FOREIGN_SPAN');
    const a = heap.alloc(1);
    heap.free(a);
    expectRefused(heap, () => heap.free(a), 'ERR_HUGESPAN_DOUBLE_FREE');
  });
});

describe('PageSpans: only handles it made and still holds', () => {
  const make = () => new PageSpans(new PageHeap(new Sys(new FakeMemory()), { arenaBytes: 32 * MiB, growBytes: 4 * MiB }));

  it('refuses a forgery, a hand-built handle naming a live allocation, and a handle already freed', () => {
    const spans = make();
    const a = spans.alloc(2);
    const forged = Object.assign(Object.create(PageSpan.prototype), { owner: spans, base: a.base, npages: 2, bytes: a.bytes });
    expectRefused(spans, () => spans.free(forged), 'ERR_INVALID_ARG_TYPE');
    expectRefused(spans, () => spans.free(new PageSpan(spans, a.base, 2, a.bytes)), 'ERR_HUGESPAN_STALE_SPAN');
    expect(a.state).toBe('inUse');
    spans.free(a);
    expect(a.state).toBe('dead');
    expectRefused(spans, () => spans.free(a), 'ERR_HUGESPAN_STALE_SPAN');
    expectRefused(spans, () => spans.free(make().alloc(1)), 'ERR_HUGESPAN_FOREIGN_SPAN');
  });

  it('a handle is frozen: its holder cannot point it at another allocation', () => {
    const spans = make();
    const a = spans.alloc(1);
    const b = spans.alloc(1);
    expect(() => Object.assign(a, { base: b.base })).toThrow(TypeError);
    spans.free(a);
    expect(spans.pages.sizeOf(b.base)).toBe(1);
    spans.checkInvariants();
  });
});
