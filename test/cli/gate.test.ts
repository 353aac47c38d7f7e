/**
 * --min-coverage's verdict on reports built by hand, for the cases a live process cannot be
 * made into: no anonymous memory at all, a kernel without THP, and the system report. A
 * coverage that cannot exist is never "below" (exit 3) nor a pass: exit 4, unless the user
 * said which it counts as.
 */
import { gate, unmeasurable } from '../../src/cli/report';
import type { ProcessReport, SystemReport } from '../../src/account/schema';

const thp = { enabled: 'madvise', defrag: 'madvise', hugePageSize: 2 << 20, maxPtesNone: 511, khugepaged: {}, sizes: {} };
const host = { kernel: '6.18', arch: 'x64', pageSize: 4096, pagemapScan: true };

function processReport(over: { anonymous?: number; huge?: number; enabled?: string; hugePageSize?: number; thpDisabled?: boolean | null }): ProcessReport {
  const anonymous = over.anonymous ?? 100;
  const huge = over.huge ?? 20;
  return {
    schema: 2, kind: 'process', time: '', pid: 7, comm: 'x', host,
    thp: { ...thp, enabled: over.enabled ?? thp.enabled, hugePageSize: over.hugePageSize ?? thp.hugePageSize },
    thpDisabled: over.thpDisabled ?? false, method: 'pagemap_scan',
    totals: {
      rss: anonymous, anonymous, anonHugePages: huge, coverage: anonymous ? huge / anonymous : 0, eligibleNotHuge: 0, noHugePage: 0,
      account: { anonymous, pmdMapped: huge, pteMappedThp: 0, small: anonymous - huge, reasons: { 'collapsible-waiting': anonymous - huge } },
      otherHuge: { filePmdMapped: 0, shmemPmdMapped: 0, privateHugetlb: 0, sharedHugetlb: 0 },
    },
    vmas: [],
  };
}

function systemReport(enabled: string, anonymous = 100): SystemReport {
  return {
    schema: 2, kind: 'system', time: '', host, thp: { ...thp, enabled },
    memory: { anonymous, anonHugePages: 0, coverage: 0 }, counters: {}, compaction: {}, mthp: {}, freeHugeBlocks: [], method: 'smaps_rollup', processes: [], readable: 0, unreadable: 0,
  };
}

describe('--min-coverage', () => {
  it('judges a measurement: below is exit 3 with both numbers, at or above is exit 0', () => {
    expect(gate(processReport({ huge: 20 }), 0.5)).toEqual({ exit: 3, line: 'coverage 20.0% is below --min-coverage 50.0%' });
    expect(gate(processReport({ huge: 50 }), 0.5)).toEqual({ exit: 0 });
    // enabled=madvise with nothing advised is a finding (the process could advise), not "cannot judge".
    expect(gate(processReport({ huge: 0 }), 0.5).exit).toBe(3);
  });

  it.each([
    ['no anonymous memory', { anonymous: 0, huge: 0 }, 'pid 7 has no anonymous memory, so nothing that could be on huge pages'],
    ['THP off for the process (prctl)', { thpDisabled: true, huge: 0 }, 'THP disabled for this process (prctl PR_SET_THP_DISABLE)'],
    ['THP off host-wide', { enabled: 'never', huge: 0 }, 'THP is off host-wide (enabled=never)'],
    ['no THP in the kernel', { hugePageSize: 0, huge: 0 }, 'this kernel has no transparent huge pages'],
  ])('cannot judge %s: exit 4 and why, or what --unmeasurable says', (_, over, why) => {
    const r = processReport(over);
    expect(unmeasurable(r)).toBe(why);
    expect(gate(r, 0.5)).toEqual({ exit: 4, line: `--min-coverage cannot judge: ${why} (--unmeasurable pass|fail decides)` });
    expect(gate(r, 0.5, 'pass')).toEqual({ exit: 0 });
    expect(gate(r, 0.5, 'fail')).toEqual({ exit: 3, line: `no coverage to judge (${why}); --unmeasurable fail counts that as below --min-coverage 50.0%` });
  });

  it('the system report: host-wide never and no anonymous memory cannot be judged; madvise can', () => {
    expect(gate(systemReport('never'), 0.1).exit).toBe(4);
    expect(unmeasurable(systemReport('madvise', 0))).toBe('the system has no anonymous memory (meminfo AnonPages 0)');
    expect(gate(systemReport('madvise'), 0.1)).toEqual({ exit: 3, line: 'coverage 0.0% is below --min-coverage 10.0%' });
  });
});
