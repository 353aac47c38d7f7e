/**
 * Spans count their huge pages as the runtime does, and the free set answers first fit and the
 * scavenger's "highest unscavenged span with a huge page" exactly as a brute-force scan would.
 */
import { Span } from '../../src/heap/span';
import type { SpanOwner } from '../../src/heap/span';
import { FreeTreap, UNSCAVENGED_HUGE, UNSCAVENGED_SMALL } from '../../src/heap/treap';
import { Rand } from '../../src/heap/rand';
import { KiB, MiB } from './helpers';

const H = 2 * MiB;
const x86: SpanOwner = { pageSize: 8 * KiB, physHugePageSize: H };
const PAGES_PER_H = H / x86.pageSize;

describe('Span.hugePages', () => {
  const hp = (owner: SpanOwner, base: number, npages: number) => new Span(owner, base, npages, 'free', false).hugePages();

  it.each([
    ['exactly one aligned huge page', 0, PAGES_PER_H, 1],
    ['aligned base, unaligned end', 0, PAGES_PER_H + 1, 1],
    ['unaligned base, aligned end', H - 8 * KiB, PAGES_PER_H + 1, 1],
    ['unaligned both ends around two frames', H / 2, 2 * PAGES_PER_H, 1],
    ['one huge page long but straddling two frames', H / 2, PAGES_PER_H, 0],
    ['smaller than a huge page', 0, PAGES_PER_H - 1, 0],
    ['several whole huge pages', 3 * H, 5 * PAGES_PER_H, 5],
  ])('%s', (_, base, npages, want) => {
    expect(hp(x86, base, npages)).toBe(want);
  });

  it('is 0 without huge pages, and counts runtime pages larger than the huge page', () => {
    expect(hp({ pageSize: 8 * KiB, physHugePageSize: 0 }, 0, 10 * PAGES_PER_H)).toBe(0);
    expect(hp({ pageSize: 4 * MiB, physHugePageSize: H }, 0, 3)).toBe(6);
  });
});

describe('FreeTreap', () => {
  /** Random disjoint free spans over a 512 MiB range, some scavenged. */
  function randomSpans(rand: Rand, count: number): Span[] {
    const spans: Span[] = [];
    let addr = 0;
    for (let i = 0; i < count; i++) {
      addr += (1 + rand.int(64)) * x86.pageSize; // a gap: an in-use span in a real heap
      const npages = rand.int(4) === 0 ? PAGES_PER_H + rand.int(3 * PAGES_PER_H) : 1 + rand.int(64);
      spans.push(new Span(x86, addr, npages, 'free', rand.int(3) === 0));
      addr += npages * x86.pageSize;
    }
    return spans;
  }

  const kind = (s: Span) => (s.scavenged ? 1 : 0) | (s.hugePages() > 0 ? 2 : 0);

  it('agrees with a brute-force scan through inserts, removes and in-place changes', () => {
    const rand = new Rand(7);
    const spans = randomSpans(rand, 400);
    const held = new Set<Span>();
    const t = new FreeTreap(new Rand(1));
    const shuffled = [...spans];
    for (let i = shuffled.length - 1; i > 0; i--) {
      const j = rand.int(i + 1);
      [shuffled[i], shuffled[j]] = [shuffled[j], shuffled[i]];
    }
    const check = () => {
      const sorted = spans.filter((s) => held.has(s));
      expect(t.validate()).toBeUndefined();
      expect([...t]).toEqual(sorted);
      expect(t.unscavHugePages).toBe(t.recountUnscavHugePages());
      for (const n of [1, 2, 17, 64, PAGES_PER_H, 3 * PAGES_PER_H, 5 * PAGES_PER_H]) {
        expect(t.find(n)).toBe(sorted.find((s) => s.npages >= n));
      }
      const last = (k: number) => [...sorted].reverse().find((s) => kind(s) === k);
      expect(t.findLast(UNSCAVENGED_HUGE)).toBe(last(2));
      expect(t.findLast(UNSCAVENGED_SMALL)).toBe(last(0));
    };
    for (const s of shuffled) {
      t.insert(s);
      held.add(s);
    }
    check();
    for (const s of shuffled.slice(0, 150)) {
      t.remove(s);
      held.delete(s);
    }
    check();
    for (const s of shuffled.slice(150, 250)) {
      // Shrink from the top in place (what scavenging a span's top does), keeping address order.
      t.mutate(s, (m) => {
        m.npages = Math.max(1, m.npages - PAGES_PER_H);
      });
    }
    check();
    expect(t.size).toBe(held.size);
  });

  it('answers floor(addr) and refuses a duplicate base or a span it does not hold', () => {
    const t = new FreeTreap(new Rand(1));
    const a = new Span(x86, 0, 4, 'free', false);
    const b = new Span(x86, 10 * x86.pageSize, 4, 'free', true);
    t.insert(a);
    t.insert(b);
    expect(t.floor(12 * x86.pageSize)).toBe(b);
    expect(t.floor(5 * x86.pageSize)).toBe(a);
    expect(() => t.insert(new Span(x86, 0, 1, 'free', false))).toThrow(/already held/);
    expect(() => t.remove(new Span(x86, 0, 4, 'free', false))).toThrow(/not held/);
  });

  it('detects a stale summary', () => {
    const t = new FreeTreap(new Rand(1));
    const spans = randomSpans(new Rand(3), 20);
    spans.forEach((s) => t.insert(s));
    spans[5].npages += 10_000; // changed behind the treap's back
    expect(t.validate()).toMatch(/summary is stale/);
  });
});
