/**
 * thpRanges (native/pageflags.cc): which pages of given ranges are THP mapped by PTEs, through
 * pagemap's frame numbers and /proc/kpageflags, in one addon call. On real memory: a huge page
 * split by MADV_DONTNEED of one 4 KiB page leaves 511 pages of a THP mapped by PTEs; 4 KiB pages
 * advised nohugepage are no THP. Without root the kernel hides frame numbers: null, never [].
 */
import * as fs from 'node:fs';
import { binding } from '../../src/native/binding';
import { Mapping } from '../../src/native/mapping';
import { hugePageSize } from '../../src/native/host';
import { thpRanges, overlapBytes } from '../../src/account/kpageflags';
import { thrown } from '../support/errors';
import { itUnless, thpReason } from '../support/thp';

const P = binding.pageSize();
const H = hugePageSize() || 2 << 20;
const root = process.getuid?.() === 0 && fs.existsSync('/proc/kpageflags');
const hidden = root ? undefined : 'not root: the kernel hides page frame numbers and kpageflags';

describe('thpRanges', () => {
  itUnless(hidden ?? thpReason, 'a split huge page: exactly its 511 remaining pages are THP; 4 KiB pages are not', () => {
    const m = new Mapping(3 * H, { align: 'hugepage', commit: true });
    try {
      m.advise('hugepage', 0, H);
      m.touch(0, H);
      m.advise('dontneed', 0, P); // splits the PMD: the rest stays a THP mapped by PTEs
      m.advise('nohugepage', 0, 3 * H); // and khugepaged may not collapse it back meanwhile
      m.touch(H, 2 * H);
      const all = new Float64Array([m.address, m.address + 3 * H]);
      const got = binding.thpRanges('self', all)!;
      expect(Array.from(got)).toEqual([m.address + P, m.address + H]);
      // The same pages asked for in many small ranges.
      const pages = new Float64Array(2 * 3 * (H / P));
      for (let i = 0; i < 3 * (H / P); i++) pages.set([m.address + i * P, m.address + (i + 1) * P], 2 * i);
      expect(overlapBytes(pages, binding.thpRanges('self', pages)!, 0).bytes).toBe(H - P);
    } finally {
      m.unmap();
    }
  });

  itUnless(root ? 'root: frame numbers are visible here' : undefined, 'without root: undefined ("not visible"), never an empty answer', () => {
    const m = new Mapping(4 * P, { commit: true });
    try {
      m.touch();
      expect(thpRanges('self', [m.address, m.end])).toBeUndefined();
    } finally {
      m.unmap();
    }
  });

  it.each<[string, unknown, string, string]>([
    ['not a Float64Array', [0, 4096], 'TypeError', 'ERR_INVALID_ARG_TYPE'],
    ['an odd length', new Float64Array([0, 4096, 8192]), 'RangeError', 'ERR_INVALID_ARG_VALUE'],
    ['unaligned', new Float64Array([1, 4096]), 'RangeError', 'ERR_INVALID_ARG_VALUE'],
    ['empty range', new Float64Array([4096, 4096]), 'RangeError', 'ERR_INVALID_ARG_VALUE'],
    ['out of order', new Float64Array([8192, 12288, 0, 4096]), 'RangeError', 'ERR_INVALID_ARG_VALUE'],
    ['negative', new Float64Array([-4096, 4096]), 'RangeError', 'ERR_INVALID_ARG_VALUE'],
    ['beyond 2^53', new Float64Array([0, 2 ** 60]), 'RangeError', 'ERR_INVALID_ARG_VALUE'],
    ['a fraction', new Float64Array([0, 4096.5]), 'RangeError', 'ERR_INVALID_ARG_VALUE'],
  ])('ranges %s: refused before anything is opened', (_n, ranges, name, code) => {
    const e = thrown(() => binding.thpRanges('self', ranges as Float64Array));
    expect({ name: e.name, code: e.code }).toEqual({ name, code });
  });

  it('a process that does not exist: undefined through the TypeScript wrapper, ENOENT from the addon', () => {
    expect(thpRanges(4194304, [0, 4096])).toBeUndefined();
    expect(thrown(() => binding.thpRanges(4194304, new Float64Array([0, 4096]))).code).toBe('ENOENT');
  });

  it('overlapBytes: bytes of one set of pairs the other covers, with a cursor that moves forward', () => {
    const b = new Float64Array([10, 20, 30, 40]);
    expect(overlapBytes([0, 15], b, 0)).toEqual({ bytes: 5, next: 0 });
    expect(overlapBytes([15, 35], b, 0)).toEqual({ bytes: 10, next: 0 });
    expect(overlapBytes([25, 45], b, 0)).toEqual({ bytes: 10, next: 2 });
    expect(overlapBytes([50, 60], b, 0)).toEqual({ bytes: 0, next: 4 });
  });
});
