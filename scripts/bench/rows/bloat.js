'use strict';
/**
 * Row 18 (issue 18 item 11): what `--bloat` costs to read a process's huge pages for zero
 * subpages. A 256 MiB mapping (64 MiB with --quick), advised hugepage, every other 4 KiB page
 * written (so half the pages are rejected at their first word and half are read whole, all
 * zero), read two ways from another process's point of view: ours, the addon's zeroPages over
 * one range per 2 MiB THP (what bloat() hands it), called from JS; the baseline, a C program
 * reading the same pages of this process by pid with process_vm_readv, 2 MiB at a time, testing
 * each page word by word. Both must count the same zero pages.
 */
const { MiB, summary, perCall, paired, ratios, compile, startBaseline } = require('../lib');

const H = 2 * MiB;

module.exports = async function bloatRow(ctx) {
  const LENGTH = ctx.quick ? 64 * MiB : 256 * MiB;
  const what = `--bloat zero-page scan of ${LENGTH / MiB} MiB of THP, half the pages zero`;
  const { binding } = ctx.dist('native/binding');
  const { coverage, pagemapScanSupported } = ctx.dist('native/coverage');
  const m = binding.map(LENGTH, H, true);
  let baseline;
  try {
    binding.madvise(m, 0, LENGTH, 'hugepage');
    const page = binding.pageSize();
    for (let off = 0; off < LENGTH; off += 2 * page) binding.touch(m, off, page, 0x5a);
    const huge = pagemapScanSupported() ? coverage('self', m.address, m.address + LENGTH).hugeBytes / LENGTH : NaN;
    baseline = await startBaseline(compile('zero_scan'), [String(process.pid), String(m.address), String(LENGTH)]);
    if (baseline.unsupported) return [{ row: '18', what, unsupported: `baseline cannot run: ${baseline.unsupported}` }];
    const ranges = new Float64Array((LENGTH / H) * 2);
    for (let i = 0; i < LENGTH / H; i++) {
      ranges[2 * i] = m.address + i * H;
      ranges[2 * i + 1] = H;
    }
    const first = binding.zeroPages(process.pid, ranges, LENGTH);
    const ours = first.zero.reduce((a, b) => a + b, 0);
    const t = await paired(ctx.runs, {
      ours: async () => perCall(1, () => binding.zeroPages(process.pid, ranges, LENGTH)),
      c: async () => (await baseline.run(1)).perCall,
    });
    const ratio = summary(ratios(t.ours, t.c));
    const gbps = (ns) => LENGTH / ns;
    return [{
      row: '18',
      what,
      ours: summary(t.ours),
      baseline: { label: 'C: process_vm_readv 2 MiB at a time, a word loop per page', ...summary(t.c) },
      ratio,
      target: '≤ 1.5×',
      limit: { max: 1.5 },
      note:
        `ours ${gbps(summary(t.ours).median).toFixed(2)} GB/s, C ${gbps(summary(t.c).median).toFixed(2)} GB/s; ` +
        `zero pages: ours ${ours}, C ${baseline.info.zeroPages}${ours === baseline.info.zeroPages ? '' : ' — THE COUNTS DIFFER'}; ` +
        `the mapping is ${Number.isFinite(huge) ? `${(100 * huge).toFixed(0)}%` : '?'} on huge pages`,
      dependsOn: 'memory bandwidth (the copy out of the target and the scan of the zero half) against one N-API call and the ranges array',
      details: { length: LENGTH, zeroPages: ours, baselineZeroPages: baseline.info.zeroPages, hugeShare: huge },
    }];
  } finally {
    binding.unmap(m);
    await baseline?.close?.();
  }
};
