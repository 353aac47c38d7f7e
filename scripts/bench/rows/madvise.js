'use strict';
/**
 * Row 4: one madvise through the addon, flipping a 2 MiB, 2 MiB-aligned read/write mapping between
 * hugepage and nohugepage, per call, against the same flip in a C loop (single-threaded C
 * process: the baseline). The profile splits the gap: the same C loop with a second
 * thread running, a C loop inside this node process (napi_probe), the thinnest N-API crossing,
 * and, for the layers above, the Sys layer's madvise over LinuxMemory (what the heap pays).
 */
const { MiB, summary, perCall, paired, ratios, compile, startBaseline, probe } = require('../lib');

const LENGTH = 2 * MiB;
const CALLS = 20000;

module.exports = async function madviseRow(ctx) {
  const what = 'madvise hg⇄nh on 2 MiB, per call';
  const { binding } = ctx.dist('native/binding');
  const { LinuxMemory } = ctx.dist('sys/linux');
  const { Sys } = ctx.dist('sys/sys');
  const exe = compile('madvise_flip', { flags: ['-pthread'] });
  const baseline = await startBaseline(exe, [String(LENGTH)]);
  if (baseline.unsupported) return [{ row: '4', what, unsupported: `baseline cannot run: ${baseline.unsupported}` }];

  // Every flipped range sits between PROT_NONE guards (the middle of a 3 × 2 MiB reservation), as
  // in the C baseline: its VMA can never merge with a neighbour. Without guards, whether mmap
  // happened to place a compatible mapping next to it decided whether each flip also merged and
  // split VMAs — 0.7 or 1.7 µs per call, from run to run.
  const m = binding.map(3 * LENGTH, LENGTH, false);
  const a = m.address + LENGTH; // for the C probe, which takes the address itself
  binding.commit(m, LENGTH, LENGTH);
  const mem = new LinuxMemory();
  const sys = new Sys(mem, { thp: 'host' });
  const v = mem.reserve(3 * LENGTH, LENGTH) + LENGTH;
  mem.commit(v, LENGTH);
  try {
    binding.madvise(m, LENGTH, LENGTH, 'hugepage');
    sys.madvise(v, LENGTH, 'hugepage');
    // The probe (napi_probe.cc) prices the two halves of the gap on the same mapping: madvise in a
    // C loop inside this process (the kernel's cost here: node's mm, its threads, its VMAs), and
    // the thinnest possible crossing (three numbers in, undefined out) around one madvise.
    const p = probe();
    const busy = await startBaseline(exe, [String(LENGTH), 'busy']);
    const sides = {
      ours: async () => perCall(CALLS, (i) => binding.madvise(m, LENGTH, LENGTH, i & 1 ? 'hugepage' : 'nohugepage')),
      c: async () => (await baseline.run(CALLS)).perCall,
      sys: async () => perCall(CALLS, (i) => sys.madvise(v, LENGTH, i & 1 ? 'hugepage' : 'nohugepage')),
    };
    if (!busy.unsupported) sides.cBusy = async () => (await busy.run(CALLS)).perCall;
    if (!p.error) {
      sides.inNode = async () => p.madviseLoop(a, LENGTH, CALLS);
      sides.thin = async () => perCall(CALLS, (i) => p.madviseNum(a, LENGTH, i & 1 ? 14 : 15));
    }
    const t = await paired(ctx.runs, sides);
    if (!busy.unsupported) await busy.close();
    const med = (xs) => summary(xs).median;
    const profile = {
      'binding.madvise per call (row 4, ours)': med(t.ours),
      'C madvise per call, own process (row 4, baseline)': med(t.c),
      'C madvise per call, own process, a second thread running': t.cBusy ? med(t.cBusy) : 'n/a',
      '  → ours vs that': t.cBusy ? `${(med(t.ours) / med(t.cBusy)).toFixed(2)}×` : 'n/a',
    };
    if (p.error) profile['(no probe)'] = p.error;
    else {
      Object.assign(profile, {
        'C madvise loop inside this node process (probe, no JS)': med(t.inNode),
        '  → kernel cost here vs in a small C process': `${(med(t.inNode) / med(t.c)).toFixed(2)}×`,
        'thinnest N-API crossing + madvise (probe: numbers in, undefined out)': med(t.thin),
        '  → crossing alone (thin − in-node loop)': med(t.thin) - med(t.inNode),
        "  → the addon's own work (ours − thin): strings, registry, checks": med(t.ours) - med(t.thin),
        'ours vs the in-process C loop': `${(med(t.ours) / med(t.inNode)).toFixed(2)}×`,
      });
    }
    Object.assign(profile, {
      'Sys.madvise over LinuxMemory per call (what the heap pays)': med(t.sys),
      [`  = ${(med(t.sys) / med(t.c)).toFixed(2)}× the C call`]: '',
    });
    ctx.profile('4', profile);
    return [{
      row: '4',
      what,
      ours: summary(t.ours),
      baseline: { label: 'C loop, same mapping shape', ...summary(t.c) },
      ratio: summary(ratios(t.ours, t.c)),
      target: '≤ 1.3×',
      limit: { max: 1.3 },
      dependsOn: "the kernel's madvise cost (a VMA flag change: mmap lock, VMA split/merge checks) against the addon's fixed ~150–250 ns (N-API crossing, handle lookup, checks): the cheaper the syscall on this kernel/CPU, the larger the ratio",
      details: { calls: CALLS, viaSys: summary(t.sys), cWithBusyThread: t.cBusy && summary(t.cBusy), inNode: t.inNode && summary(t.inNode), thinCrossing: t.thin && summary(t.thin) },
    }];
  } finally {
    binding.unmap(m);
    mem.close();
    await baseline.close();
  }
};
