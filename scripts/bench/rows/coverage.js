'use strict';
/**
 * Row 3: exact coverage of a 1 GiB range, first half on huge pages, second half on 4 KiB pages
 * (MADV_NOHUGEPAGE), every page touched. Ours: coverage('self', start, end) — PAGEMAP_SCAN in
 * the addon, then Run objects in JS. Baseline: a C program making the same PAGEMAP_SCAN calls
 * (open /proc/self/pagemap, ioctl until the walk ends, close) on its own mapping of the same shape.
 */
const { GiB, MiB, summary, perCall, paired, ratios, compile, startBaseline } = require('../lib');

const CALLS = 10;

module.exports = async function coverageRow(ctx) {
  // --quick: 256 MiB (the PAGEMAP_SCAN walk is per page-table entry; a quarter of the setup's page faults).
  const LENGTH = ctx.quick ? GiB / 4 : GiB;
  const what = `coverage() of ${LENGTH >= GiB ? `${LENGTH / GiB} GiB` : `${LENGTH / MiB} MiB`}, half huge / half 4 KiB`;
  const { binding } = ctx.dist('native/binding');
  const { coverage, pagemapScanSupported } = ctx.dist('native/coverage');
  const { hugePagesAvailable } = ctx.dist('native/host');

  if (!pagemapScanSupported()) {
    return [{ row: '3', what, unsupported: `PAGEMAP_SCAN is absent on Linux ${ctx.machine.kernel} (needs ≥ 6.7): no exact baseline` }];
  }
  const thp = hugePagesAvailable();
  const baseline = await startBaseline(compile('pagemap_scan'), [String(LENGTH)]);
  if (baseline.unsupported) return [{ row: '3', what, unsupported: `baseline cannot run: ${baseline.unsupported}` }];

  const m = binding.map(LENGTH, 2 * MiB, true);
  try {
    binding.madvise(m, 0, LENGTH / 2, 'hugepage');
    binding.madvise(m, LENGTH / 2, LENGTH / 2, 'nohugepage');
    binding.touch(m, 0, LENGTH);
    const end = m.address + LENGTH;
    const shape = coverage('self', m.address, end);
    const t = await paired(ctx.runs, {
      ours: async () => perCall(CALLS, () => coverage('self', m.address, end)),
      c: async () => (await baseline.run(CALLS)).perCall,
    });
    const same = shape.hugeBytes === baseline.info.hugeBytes && shape.presentBytes === baseline.info.presentBytes;
    return [{
      row: '3',
      what,
      ours: summary(t.ours),
      baseline: { label: 'C: same PAGEMAP_SCAN calls, own mapping', ...summary(t.c) },
      ratio: summary(ratios(t.ours, t.c)),
      target: '≤ 1.25×',
      limit: { max: 1.25 },
      dependsOn: "the kernel's PAGEMAP_SCAN walk (page-table entries of the 4 KiB half; memory latency) against node's fixed cost per call (N-API crossing, Run objects): the faster the walk, the larger the ratio",
      note:
        `ours: ${shape.runs.length} runs, ${(shape.hugeBytes / MiB).toFixed(0)} MiB huge of ${(shape.presentBytes / MiB).toFixed(0)} MiB present; ` +
        `C: ${baseline.info.regions} regions, ${(baseline.info.hugeBytes / MiB).toFixed(0)} MiB huge` +
        (same ? '' : ' — the two mappings did not get the same backing') +
        (thp.ok ? '' : ` (no huge pages here: ${thp.reason})`),
      details: { calls: CALLS, ours: { runs: shape.runs.length, presentBytes: shape.presentBytes, hugeBytes: shape.hugeBytes }, baseline: baseline.info },
    }];
  } finally {
    binding.unmap(m);
    await baseline.close();
  }
};
