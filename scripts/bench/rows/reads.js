'use strict';
/**
 * Row 12 (issue 12): what the number of ranges costs `randomReads`. One mapping of 1 000 × 64 KiB
 * (62.5 MiB, 2 MiB-aligned, advised hugepage, touched) read two ways, with the same total bytes,
 * the same count of reads and the same seed: through 1 000 ranges of 64 KiB (a range picked per
 * read from Vose's alias table: two more random numbers and a table read) and through 1 range
 * over all of it. The time is taken inside the addon around the read loop only (the alias table
 * is built before the clock starts), so the ratio is the per-read price of the pick.
 */
const { KiB, MiB, summary, paired, ratios, fmtNs } = require('../lib');

const RANGES = 1000;
const RANGE = 64 * KiB;
const SEED = 12;

module.exports = async function readsRow(ctx) {
  const what = `randomReads over ${RANGES} ranges vs 1, same ${RANGES * RANGE / MiB} MiB`;
  const { Mapping } = ctx.dist('native/mapping');
  const { coverage, pagemapScanSupported } = ctx.dist('native/coverage');
  const reads = ctx.quick ? 1_000_000 : 2_000_000;
  const total = RANGES * RANGE;
  const m = new Mapping(Math.ceil(total / (2 * MiB)) * 2 * MiB, { align: 2 * MiB, commit: true });
  try {
    m.advise('hugepage');
    m.touch();
    const many = [];
    for (let i = 0; i < RANGES; i++) many.push([m, i * RANGE, RANGE]);
    const one = [[m, 0, total]];
    const side = (parts) => async () => {
      const r = Mapping.randomReads(parts, reads, SEED);
      return r.ns / r.reads;
    };
    const t = await paired(ctx.runs, { many: side(many), one: side(one) });
    const huge = pagemapScanSupported() ? coverage('self', m.address, m.address + total).hugeBytes / total : NaN;
    const ratio = summary(ratios(t.many, t.one));
    return [{
      row: '12',
      what,
      ours: summary(t.many),
      baseline: { label: `1 range of ${total / MiB} MiB, same seed`, ...summary(t.one) },
      ratio,
      target: '≤ 1.5×',
      limit: { max: 1.5 },
      note:
        `per read: ${fmtNs(summary(t.many).median)} through ${RANGES} ranges, ${fmtNs(summary(t.one).median)} through one ` +
        `(${fmtNs(summary(t.many).median - summary(t.one).median)} for the pick); best of 3 slices of ${reads / 1e6}M reads per side; ` +
        `the mapping is ${Number.isFinite(huge) ? `${(100 * huge).toFixed(0)}%` : '?'} on huge pages`,
      dependsOn:
        'memory latency and the TLB reach of the 62.5 MiB working set against the pick (two random numbers and an alias-table read, in L1/L2): ' +
        'the faster a read is served (working set in cache or in TLB reach), the larger the ratio',
      details: { ranges: RANGES, rangeBytes: RANGE, readsPerSlice: reads, seed: SEED, hugeShare: huge },
    }];
  } finally {
    m.unmap();
  }
};
