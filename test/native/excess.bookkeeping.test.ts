/**
 * Bookkeeping only (no kernel): coverage()'s cross-check of PAGEMAP_SCAN against smaps. Linux
 * 6.7-6.15 without the PFNZERO fix for the huge zero folio report the huge zero page as
 * present and huge; smaps' PMD counters never count it. A VMA whose scanned huge bytes exceed
 * AnonHugePages + ShmemPmdMapped + FilePmdMapped + hugetlb carries the excess, and coverage()
 * leaves it out. Runs and VMAs here are made up; the live kernel path is in thp.test.ts.
 */
import { _excessOf } from '../../src/native/coverage';
import type { Vma } from '../../src/native/smaps';

const M = 2 << 20;
const vma = (start: number, end: number, fields: Partial<Record<string, number>> = {}): Vma =>
  ({ start, end, perms: 'rw-p', offset: 0, dev: '00:00', inode: 0, path: '', vmFlags: [], size: end - start, rss: 0, pss: 0, anonymous: 0, anonHugePages: 0, swap: 0, ...fields }) as Vma;

describe('huge bytes beyond smaps are excess (the unfixed huge zero page)', () => {
  it('a VMA whose two huge frames smaps counts as one has one frame of excess', () => {
    const runs = [{ start: 10 * M, end: 12 * M, huge: true }];
    expect(_excessOf(runs, [vma(10 * M, 20 * M, { anonHugePages: M })])).toEqual([{ start: 10 * M, end: 20 * M, bytes: M }]);
  });
  it('no excess where smaps counts every huge byte, anonymous, shmem, file or hugetlb', () => {
    const runs = [
      { start: 0, end: 2 * M, huge: true },
      { start: 2 * M, end: 3 * M, huge: false },
      { start: 4 * M, end: 6 * M, huge: true },
    ];
    expect(_excessOf(runs, [vma(0, 4 * M, { anonHugePages: 2 * M }), vma(4 * M, 8 * M, { shmemPmdMapped: M, filePmdMapped: M })])).toEqual([]);
    expect(_excessOf([{ start: 0, end: 2 * M, huge: true }], [vma(0, 2 * M, { privateHugetlb: 2 * M })])).toEqual([]);
  });
  it('runs spanning two VMAs are split between them', () => {
    const runs = [{ start: 0, end: 4 * M, huge: true }];
    expect(_excessOf(runs, [vma(0, 2 * M, { anonHugePages: 2 * M }), vma(2 * M, 4 * M)])).toEqual([{ start: 2 * M, end: 4 * M, bytes: 2 * M }]);
  });
  it('small pages are never excess', () => {
    expect(_excessOf([{ start: 0, end: 4 * M, huge: false }], [vma(0, 4 * M)])).toEqual([]);
  });
});
