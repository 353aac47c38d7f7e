/**
 * One PAGEMAP_SCAN walk per process (issue 12): the walk over a whole range, attributed to VMAs
 * by merge, must say for every VMA exactly what one walk per VMA says, and the totals-only path
 * exactly what the walk with runs says. Invariant of these tests: they compare answers, never
 * times (a timed test fails on a loaded host for no fault of the code).
 */
import { binding } from '../../src/native/binding';
import { Mapping } from '../../src/native/mapping';
import { readSmaps, vmasIn } from '../../src/native/smaps';
import { coverage, coverageFlat } from '../../src/native/coverage';
import { processReport } from '../../src/account/report';
import { hugePageSize } from '../../src/native/host';
import { itScan } from '../support/thp';
import { thrown, isErrorObject } from '../support/errors';

const PAGE = binding.pageSize();
const H = hugePageSize() || 2 << 20;
const VMAS = 64;

// One region cut into VMAS VMAs by alternating advice, each holding a different pattern of
// touched pages, so runs start, end and join at VMA boundaries.
let m: Mapping;
beforeAll(() => {
  m = new Mapping(VMAS * 4 * PAGE, { align: 'hugepage', commit: true });
  for (let i = 0; i < VMAS; i++) m.advise(i % 2 ? 'nohugepage' : 'hugepage', i * 4 * PAGE, 4 * PAGE);
  for (let i = 0; i < VMAS; i++) for (let p = 0; p < 4; p++) if ((i + p) % 3 !== 0) m.touch((i * 4 + p) * PAGE, PAGE);
});
afterAll(() => m.unmap());

describe('pagemapScan over many VMAs', () => {
  itScan('the region is cut into the VMAs the test needs', () => {
    expect(vmasIn(readSmaps(), m.address, m.end).length).toBeGreaterThanOrEqual(VMAS);
  });

  itScan('one walk clipped to each VMA equals one walk per VMA', () => {
    const vmas = vmasIn(readSmaps(), m.address, m.end).map((v) => ({ start: Math.max(v.start, m.address), end: Math.min(v.end, m.end) }));
    const whole = coverage('self', m.address, m.end);
    for (const v of vmas) {
      const own = coverage('self', v.start, v.end);
      const clipped = whole.runs
        .filter((r) => r.end > v.start && r.start < v.end)
        .map((r) => ({ start: Math.max(r.start, v.start), end: Math.min(r.end, v.end), huge: r.huge }));
      expect(clipped).toEqual(own.runs);
    }
    expect(whole.presentBytes).toBe(vmas.reduce((n, v) => n + coverage('self', v.start, v.end).presentBytes, 0));
  });

  itScan('the totals-only path gives the same bytes and builds no runs', () => {
    const full = binding.pagemapScan('self', m.address, m.end);
    const totals = binding.pagemapScan('self', m.address, m.end, false);
    expect({ presentBytes: totals.presentBytes, hugeBytes: totals.hugeBytes }).toEqual({ presentBytes: full.presentBytes, hugeBytes: full.hugeBytes });
    expect(totals.runs.length).toBe(0);
    const c = coverageFlat('self', m.address, m.end, { withRuns: false, crossCheck: false });
    expect({ present: c.presentBytes, runs: c.runs.length }).toEqual({ present: full.presentBytes, runs: 0 });
    expect(coverage('self', m.address, m.end, { withRuns: false }).runs).toEqual([]);
  });

  itScan("a process report's VMAs (one walk, merged) equal per-VMA walks", () => {
    const r = processReport(process.pid, { exact: true });
    const ours = r.vmas.filter((v) => Number(v.start) >= m.address && Number(v.end) <= m.end);
    expect(ours.length).toBeGreaterThanOrEqual(VMAS);
    for (const v of ours) {
      const own = coverage('self', Number(v.start), Number(v.end));
      expect({ at: v.start, huge: v.anonHugePages }).toEqual({ at: v.start, huge: own.hugeBytes });
      expect({ at: v.start, present: v.frames.reduce((n, f) => n + f.present, 0) }).toEqual({ at: v.start, present: own.presentBytes - own.hugeBytes });
    }
  });
});

describe('pagemapScan refuses what it cannot walk', () => {
  it('withRuns must be a boolean', () => {
    const e = thrown(() => binding.pagemapScan('self', PAGE, 2 * PAGE, 1 as any));
    expect({ name: e.name, code: e.code }).toEqual({ name: 'TypeError', code: 'ERR_INVALID_ARG_TYPE' });
  });

  it.each([
    ['start at 2^53', 2 ** 53, 2 ** 53 + H],
    ['end past 2^53 - 1', 0, 2 ** 53 + H],
    ['end = start', PAGE, PAGE],
    ['start negative', -PAGE, PAGE],
  ])('%s: RangeError before any syscall', (_n, start, end) => {
    const e = thrown(() => binding.pagemapScan('self', start, end, false));
    expect({ name: e.name, code: e.code }).toEqual({ name: 'RangeError', code: 'ERR_INVALID_ARG_VALUE' });
  });

  itScan('a range above user space: the kernel says EFAULT, as a SystemError, never a wrap', () => {
    // 2^53 - 1 is a valid Number but far above any user address (x86-64 and arm64: below 2^57);
    // the kernel refuses the range (access_ok) and the error says which call and file.
    const top = Math.floor((2 ** 53 - 1) / H) * H;
    const e = thrown(() => binding.pagemapScan('self', top - H, top, false));
    expect(isErrorObject(e)).toBe(true);
    expect({ code: e.code, errno: e.errno, syscall: e.syscall, path: e.path }).toEqual({ code: 'EFAULT', errno: -14, syscall: 'ioctl', path: '/proc/self/pagemap' });
  });

  it('a pid that does not exist: an Error shaped like SystemError', () => {
    const e = thrown(() => binding.pagemapScan(4194304, 0, PAGE, false));
    expect(isErrorObject(e)).toBe(true);
    expect({ code: e.code, errno: e.errno, syscall: e.syscall, path: e.path }).toEqual({ code: 'ENOENT', errno: -2, syscall: 'open', path: '/proc/4194304/pagemap' });
    expect(e.message).toMatch(/^ENOENT: no such file or directory, open '\/proc\/4194304\/pagemap'/);
  });
});
