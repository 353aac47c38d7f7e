'use strict';
/**
 * Rows 6 and 8: the heap on real memory after churn, per policy. For each seed, one heap per
 * policy goes through what `hugespan lab` does (../lab-heap.js: arena thp 'always', the lab's
 * seeded churn of mixed sizes with the paced scavenger, a final GC sweep freeing half the live
 * spans, then the collapse pass over the arena, as khugepaged would do it); both policies run
 * the same workload. Row 6 then reads: random 8-byte reads over the live spans of each heap,
 * against two raw mappings of the in-use size (one advised hugepage, one nohugepage, touched)
 * read through the same number of ranges of the same lengths (randomReads picks a range by
 * binary search, so the range count must match), the same count of reads, the same seed — all
 * four interleaved. Row 8: RSS of the arena (PAGEMAP_SCAN, else smaps) after the collapse pass.
 */
const { GiB, MiB, summary, paired, ratios, fmtBytes } = require('../lib');
const { labHeap } = require('../lab-heap');

const READS = 1_000_000;

function rawMapping(Mapping, coverage, ranges, advice) {
  let total = 0;
  for (const [, bytes] of ranges) total += bytes;
  const size = Math.ceil(total / (2 * MiB)) * 2 * MiB;
  const m = new Mapping(size, { align: 2 * MiB, commit: true });
  m.advise(advice);
  m.touch();
  const parts = [];
  let at = 0;
  for (const [, bytes] of ranges) {
    parts.push([m, at, bytes]);
    at += bytes;
  }
  const c = coverage('self', m.address, m.address + total);
  return { read: (count, seed) => Mapping.randomReads(parts, count, seed), hugeShare: c.hugeBytes / total, close: () => m.unmap() };
}

/** Bytes of the in-use spans that sit on huge pages, from one exact scan of the arena. */
module.exports = async function churnRows(ctx) {
  const what6 = 'random reads, in-use heap after churn+collapse';
  const what8 = 'arena RSS after churn+collapse';
  if (!ctx.distExists('lab/workload') || !ctx.distExists('verify/index')) {
    const waiting = 'waiting for src/verify and src/lab (not in dist/)';
    return [{ row: '6', what: what6, waiting }, { row: '8', what: what8, waiting }];
  }
  const { Mapping } = ctx.dist('native/mapping');
  const { hugePagesAvailable } = ctx.dist('native/host');
  const { coverage, pagemapScanSupported } = ctx.dist('native/coverage');
  const thp = hugePagesAvailable();
  if (!thp.ok) {
    const why = `no huge pages on this host: ${thp.reason}`;
    return [{ row: '6', what: what6, unsupported: why }, { row: '8', what: what8, unsupported: why }];
  }
  if (!pagemapScanSupported()) ctx.log('rows 6, 8: no PAGEMAP_SCAN: huge-page shares are not exact (reported as NaN), RSS from smaps');

  // --quick: a 512 MiB arena (the lab's default) and half the ops.
  const ARENA = ctx.quick ? GiB / 2 : GiB;
  const OPS = ctx.quick ? 10000 : 20000;
  const maxSeeds = Math.min(ctx.runs, 5);
  const t0 = performance.now();
  let seeds = 0;
  const reads = { coalesce: [], none: [], huge: [], small: [] };
  const state = { coalesce: [], none: [], huge: [], small: [] };
  for (let seed = 1; seed <= maxSeeds; seed++) {
    // The time budget: after the minimum, a seed only when one more (at the pace so far) fits.
    if (seed > ctx.minRuns && !ctx.affords((performance.now() - t0) / (seed - 1))) break;
    seeds = seed;
    // Alternate which policy builds first: the second heap's page faults find the first one's leftovers.
    const order = seed % 2 ? ['coalesce', 'none'] : ['none', 'coalesce'];
    const labs = {};
    for (const policy of order) labs[policy] = labHeap(ctx, { policy, seed, arenaBytes: ARENA, ops: OPS });
    const raws = { huge: rawMapping(Mapping, coverage, labs.coalesce.ranges, 'hugepage'), small: rawMapping(Mapping, coverage, labs.coalesce.ranges, 'nohugepage') };
    try {
      for (const policy of order) {
        const l = labs[policy];
        // verify() already joined the live spans with PAGEMAP_SCAN's runs (shared frames included).
        state[policy].push({
          heapInuse: l.heap.heapInuse,
          retained: l.heap.retained,
          rss: l.verification.arena.rss,
          anonHugePages: l.verification.arena.anonHugePages,
          inUseHugeShare: l.verification.inUse.hugeBytes / l.heap.heapInuse,
          liveSpans: l.live.length,
          collapse: { collapsed: l.collapse.collapsed, already: l.collapse.already, ...l.collapse.refused },
          countMinusTruth: l.verification.countMinusTruth,
          calls: { ...l.heap.sys.calls },
        });
      }
      state.huge.push({ inUseHugeShare: raws.huge.hugeShare });
      state.small.push({ inUseHugeShare: raws.small.hugeShare });
      const read = (source) => async () => {
        const r = source.read(READS, seed);
        return r.ns / r.reads;
      };
      const t = await paired(1, {
        coalesce: read(labs.coalesce),
        none: read(labs.none),
        huge: read(raws.huge),
        small: read(raws.small),
      }, { slices: 3 });
      for (const k of Object.keys(reads)) reads[k].push(t[k][0]);
    } finally {
      for (const l of Object.values(labs)) l.close();
      for (const r of Object.values(raws)) r.close();
    }
  }

  const med = (xs, f) => summary(xs.map(f)).median;
  const pct = (x) => (Number.isFinite(x) ? `${(100 * x).toFixed(0)}%` : '?');
  const share = (k) => pct(med(state[k], (x) => x.inUseHugeShare));
  const cVsN = summary(ratios(reads.coalesce, reads.none));
  // The read-speed difference between the policies is a few percent at most (their in-use huge
  // shares differ by a few points), below this VM's run-to-run noise (±15%: guest huge pages on
  // host memory of varying backing). So the verdict rests first on the noise-free fact — coalesce
  // leaves at least as much in-use memory on huge pages as none, seed by seed — then on the reads:
  // pass if the median ratio is ≤ 1, a tie if some seeds are faster and some slower, a miss if
  // coalesce was slower on every seed.
  const shareHolds = state.coalesce.every((c, i) => !(c.inUseHugeShare < state.none[i].inUseHugeShare));
  const verdict6 = !shareHolds ? 'MISS (share)' : cVsN.median <= 1 ? 'pass' : cVsN.min <= 1 ? 'tie (noise)' : 'MISS';
  const gap = summary(ratios(reads.coalesce, reads.huge));
  const common = { seeds, arenaBytes: ARENA, ops: OPS, readsPerSlice: READS, slices: 3 };
  const results = [
    {
      row: '6',
      what: `${what6}: coalesce vs none`,
      ours: summary(reads.coalesce),
      baseline: { label: 'none, same seeds', ...summary(reads.none) },
      ratio: cVsN,
      target: 'coalesce ≤ 1× none; share ≥',
      verdict: verdict6,
      limit: { max: 1 },
      dependsOn: "the TLB reach of the working set (the in-use memory against what the TLB covers with 4 KiB and with 2 MiB entries) and whether the hypervisor backs guest huge pages with host huge pages; the policies' huge-page shares differ by a few points, so the ratio stays near 1× wherever reads are not TLB-bound",
      note: `${seeds} seeds, one heap per policy each (${fmtBytes(ARENA)} arena, ${OPS} lab ops, then the sweep and the collapse pass); ` +
        `reads: best of 3 slices of ${READS / 1e6}M per side, all four sides interleaved. ` +
        `In-use memory on huge pages: coalesce ${share('coalesce')}, none ${share('none')}, raw huge ${share('huge')}, raw nohugepage ${share('small')} ` +
        `(coalesce ≥ none on ${state.coalesce.filter((c, i) => !(c.inUseHugeShare < state.none[i].inUseHugeShare)).length} of ${seeds} seeds). ` +
        `Gap to the all-huge mapping: coalesce takes ${gap.median.toFixed(2)}× its time per read (${gap.min.toFixed(2)}–${gap.max.toFixed(2)})`,
      details: { ...common, reads, state },
    },
    {
      row: '6',
      what: `${what6}: coalesce vs raw all-huge`,
      ours: summary(reads.coalesce),
      baseline: { label: 'raw, madvise hugepage', ...summary(reads.huge) },
      ratio: gap,
      target: 'report the gap',
      dependsOn: 'TLB reach of the in-use memory: how much a 4 KiB page walk costs against a 2 MiB one here (memory latency, page-walk caches, host backing)',
    },
    {
      row: '6',
      what: `${what6}: none vs raw all-nohugepage`,
      ours: summary(reads.none),
      baseline: { label: 'raw, madvise nohugepage', ...summary(reads.small) },
      ratio: summary(ratios(reads.none, reads.small)),
      target: 'report',
      dependsOn: 'TLB reach of the in-use memory, as above',
    },
  ];
  for (const policy of ['coalesce', 'none']) {
    const xs = state[policy];
    results.push({
      row: '8',
      what: `${what8}: ${policy}`,
      unit: 'bytes',
      ours: summary(xs.map((x) => x.rss)),
      baseline: { label: 'retained (in use + free unreleased)', ...summary(xs.map((x) => x.retained)) },
      ratio: summary(xs.map((x) => x.rss / x.retained)),
      target: '≤ 1.02× retained',
      limit: { max: 1.02 },
      dependsOn: "the kernel's THP behaviour (enabled/defrag, max_ptes_none, what MADV_COLLAPSE accepts), not the machine's speed",
      note: `${policy}: RSS ${fmtBytes(med(xs, (x) => x.rss))} is ${med(xs, (x) => x.rss / x.heapInuse).toFixed(2)}× the bytes in use ` +
        `(${fmtBytes(med(xs, (x) => x.heapInuse))}): the rest is free memory the paced scavenger has not released yet, right after the sweep ` +
        `(retained ${fmtBytes(med(xs, (x) => x.retained))}). Collapse pass: ${med(xs, (x) => x.collapse.collapsed)} frames collapsed, ` +
        `${med(xs, (x) => x.collapse.nh)} refused as nh, ${med(xs, (x) => x.collapse.notResident)} too little resident; ` +
        `AnonHugePages ${fmtBytes(med(xs, (x) => x.anonHugePages))}`,
      details: { ...common, rssOverInuse: summary(xs.map((x) => x.rss / x.heapInuse)) },
    });
  }
  return results;
};
