/**
 * Real memory, real kernel: what madvise does to a mapping, read back through both of the
 * kernel's answers — the smaps entry of the VMA holding the mapping, and PAGEMAP_SCAN.
 */
import { Mapping } from '../../src/native/mapping';
import { readSmaps, vmaAt, Vma } from '../../src/native/smaps';
import { coverage } from '../../src/native/coverage';
import { hugePageSize } from '../../src/native/host';
import { itExact, itScan, itUnless, exactReason, MiB } from '../support/thp';
import { thrown, isErrorObject } from '../support/errors';

const H = hugePageSize() || 2 * MiB;

function vmaOf(m: Mapping, offset = 0): Vma {
  const v = vmaAt(readSmaps(), m.address + offset);
  if (!v) throw new Error(`no VMA holds ${m.address.toString(16)}`);
  return v;
}

const live: Mapping[] = [];
function map(length: number, commit = true): Mapping {
  const m = new Mapping(length, { align: 'hugepage', commit });
  live.push(m);
  return m;
}
afterEach(() => {
  for (const m of live.splice(0)) if (m.live) m.unmap();
});

describe('madvise on real memory', () => {
  itExact('hugepage + touch: 64 MiB lands on huge pages, smaps and PAGEMAP_SCAN agree to the page', () => {
    const m = map(64 * MiB);
    expect(m.address % H).toBe(0);
    m.advise('hugepage');
    m.touch();
    const v = vmaOf(m);
    expect(v.vmFlags).toContain('hg');
    expect(v.anonHugePages).toBeGreaterThanOrEqual(60 * MiB);
    // The VMA may be larger than the mapping only if a neighbour merged; compare over the VMA.
    const c = coverage('self', v.start, v.end);
    expect(c.method).toBe('pagemap_scan');
    expect(c.hugeBytes).toBe(v.anonHugePages);
    expect(c.presentBytes).toBe(v.rss);
    const own = coverage('self', m.address, m.end);
    expect(own.hugeBytes).toBeGreaterThanOrEqual(60 * MiB);
    expect(own.runs.every((r) => r.start >= m.address && r.end <= m.end)).toBe(true);
  });

  itExact('nohugepage + touch: no huge page, and the VMA says nh', () => {
    const m = map(16 * MiB);
    m.advise('nohugepage');
    m.touch();
    const v = vmaOf(m);
    expect(v.vmFlags).toContain('nh');
    expect(v.vmFlags).not.toContain('hg');
    expect(v.anonHugePages).toBe(0);
    const c = coverage('self', m.address, m.end);
    expect(c.presentBytes).toBe(16 * MiB);
    expect(c.hugeBytes).toBe(0);
  });

  itExact('collapse turns resident small pages of hg memory into huge pages', () => {
    const m = map(8 * MiB);
    m.advise('nohugepage');
    m.touch(); // resident on 4 KiB pages
    expect(coverage('self', m.address, m.end).hugeBytes).toBe(0);
    m.advise('hugepage'); // eligible now, but nothing has changed the pages yet
    m.advise('collapse');
    const c = coverage('self', m.address, m.end);
    expect(c.hugeBytes).toBe(8 * MiB);
    expect(vmaOf(m).anonHugePages).toBeGreaterThanOrEqual(8 * MiB);
  });

  itExact('collapse on nh memory fails with EINVAL, shaped like a SystemError', () => {
    const m = map(4 * MiB);
    m.advise('nohugepage');
    m.touch();
    const err = thrown(() => m.advise('collapse'));
    expect(isErrorObject(err)).toBe(true);
    expect(err.name).toBe('Error');
    expect(err).toMatchObject({ code: 'EINVAL', errno: -22, syscall: 'madvise', address: m.address, length: 4 * MiB });
    expect(err.message).toMatch(/^EINVAL: invalid argument, madvise 0x[0-9a-f]+\+4194304 \(collapse\)$/);
    expect(coverage('self', m.address, m.end).hugeBytes).toBe(0);
  });

  itExact('dontneed of 4 KiB inside a huge page splits it; both readers see the split', () => {
    const m = map(8 * MiB);
    m.advise('hugepage');
    m.touch();
    expect(coverage('self', m.address, m.end).hugeBytes).toBe(8 * MiB);
    m.advise('dontneed', H + 4096, 4096);
    const c = coverage('self', m.address, m.end);
    expect(c.presentBytes).toBe(8 * MiB - 4096);
    expect(c.hugeBytes).toBe(8 * MiB - H);
    // The split frame shows as small-page runs around the hole.
    expect(c.runs.filter((r) => !r.huge)).toEqual([
      { start: m.address + H, end: m.address + H + 4096, huge: false },
      { start: m.address + H + 8192, end: m.address + 2 * H, huge: false },
    ]);
    const v = vmaOf(m);
    const whole = coverage('self', v.start, v.end);
    expect(v.anonHugePages).toBe(whole.hugeBytes);
  });
});

describe('the zero page is not memory', () => {
  // The invariant, on any host: memory that was only read is whatever the kernel says it is —
  // the huge zero page (not present, not huge: smaps counts neither) or, on a kernel that
  // never maps the zero page, real huge pages — and hugespan agrees with smaps either way.
  itExact('hugepage memory that was only read: PAGEMAP_SCAN agrees with smaps, zero page or not', () => {
    const m = map(8 * MiB);
    m.advise('nohugepage', 0, H); // its own VMA: neighbours cannot merge with an hg VMA of this size
    m.advise('hugepage', H);
    expect(m.readPages(H)).toBe(0);
    const v = vmaOf(m, H);
    expect([v.start, v.end]).toEqual([m.address + H, m.end]);
    const c = coverage('self', v.start, v.end, { crossCheck: true }); // the smaps cross-check too, on any kernel
    expect({ present: c.presentBytes, huge: c.hugeBytes }).toEqual({ present: v.rss, huge: v.anonHugePages });
    expect(c.excess).toEqual([]);
    m.touch(H, H); // one write: one real huge page, whatever the read fault gave
    const w = vmaOf(m, H);
    expect(coverage('self', w.start, w.end).hugeBytes).toBe(w.anonHugePages);
    expect(w.anonHugePages).toBeGreaterThanOrEqual(H);
  });

  // The exclusion itself is testable only where a read fault maps the huge zero page: probe it
  // (smaps' Rss stays 0 after the read) and skip with the reason elsewhere.
  const probe = ((): string | undefined => {
    try {
      const m = new Mapping(4 * H, { align: 'hugepage', commit: true });
      try {
        m.advise('hugepage');
        m.readPages();
        const v = vmaAt(readSmaps(), m.address);
        return v && v.rss === 0 ? undefined : `a read fault on hugepage memory allocated ${v?.rss} bytes of real memory here (no huge zero page: use_zero_page off, or a kernel that never maps the zero page)`;
      } finally {
        m.unmap();
      }
    } catch (e) {
      return `the probe could not map memory: ${(e as Error).message}`;
    }
  })();
  const itZero = (name: string, fn: () => void) => itUnless(probe ?? exactReason, name, fn);
  itZero('where the host maps the huge zero page, it counts as neither present nor huge', () => {
    const m = map(8 * MiB);
    m.advise('hugepage');
    expect(m.readPages()).toBe(0);
    const c = coverage('self', m.address, m.end);
    expect({ present: c.presentBytes, huge: c.hugeBytes }).toEqual({ present: 0, huge: 0 });
    const v = vmaOf(m);
    expect({ anonymous: v.anonymous, anonHugePages: v.anonHugePages }).toEqual({ anonymous: 0, anonHugePages: 0 });
  });
});

describe('PAGEMAP_SCAN walks past one ioctl vector', () => {
  itScan('5120 separate present runs come back exactly (the vector holds 4096)', () => {
    const m = map(48 * MiB);
    m.advise('nohugepage');
    const view = m.view();
    for (let i = 0; i < 5120; i++) view[i * 8192] = 1; // every other 4 KiB page
    const c = coverage('self', m.address, m.end);
    expect(c.runs.length).toBe(5120);
    expect(c.presentBytes).toBe(5120 * 4096);
    expect(c.runs[5119]).toEqual({ start: m.address + 5119 * 8192, end: m.address + 5119 * 8192 + 4096, huge: false });
  });
});
