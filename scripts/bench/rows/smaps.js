'use strict';
/**
 * Rows 1 and 2: read + parse /proc/self/smaps of this node process into VMA objects.
 * Row 1 against a C program reading the very same file (/proc/<our pid>/smaps, so the kernel
 * generates the same text) into one large buffer with no parsing: what the kernel costs.
 * Row 2 against the plain JS parser in ../js-smaps.js. Sides alternate within each run and the
 * ratio is taken per run, so drift in the process's map (V8 grows its heap) cancels out.
 * Then the profile of row 1, on one saved copy of the text: the C++ parse alone, the addon's
 * conversion to objects, and the proposed flat hand-over built into objects in JS.
 */
const fs = require('node:fs');
const { summary, perCall, paired, ratios, compile, startBaseline, probe } = require('../lib');
const { readSmapsJs } = require('../js-smaps');

const CALLS = 10;

function sameRecords(a, b) {
  const norm = (vs) => JSON.stringify(vs.map((v) => Object.fromEntries(Object.entries(v).sort(([x], [y]) => (x < y ? -1 : 1)))));
  return norm(a) === norm(b);
}

module.exports = async function smapsRows(ctx) {
  const { binding } = ctx.dist('native/binding');
  const { readSmaps, parseSmaps } = ctx.dist('native/smaps');

  // Row 1 (and its profile) before the JS parser runs: the JS parser's big strings grow V8's
  // heap, and every new heap page is one more VMA for the kernel to print (both sides would pay
  // it, but row 1's absolute numbers would then depend on row 2).
  const what = () => {
    const text = fs.readFileSync('/proc/self/smaps');
    return `readSmaps('self') per call (${parseSmaps(text).length} VMAs, ${(text.length / 1024).toFixed(0)} KiB)`;
  };
  const reader = await startBaseline(compile('smaps_read'), [String(process.pid)]);
  const ours = async () => perCall(CALLS, () => readSmaps('self'));
  // The profile sides run in the same loop, on a copy of the text saved now, so that the whole
  // breakdown shares the same moments of machine noise.
  const text1 = fs.readFileSync('/proc/self/smaps');
  const vmas1 = parseSmaps(text1).length;
  const p = probe();
  const sides = { ours };
  if (!reader.unsupported) sides.c = async () => (await reader.run(CALLS)).perCall;
  sides.flat = async () => perCall(CALLS, () => binding.parseSmaps(text1));
  sides.objects = async () => perCall(CALLS, () => parseSmaps(text1));
  if (!p.error) {
    sides.readInNode = async () => p.smapsReadLoop(CALLS);
    sides.parse = async () => p.smapsParseLoop(text1, CALLS);
  }
  const t = await paired(ctx.runs, sides, { deadline: ctx.deadline(0.65) });
  if (!reader.unsupported) await reader.close();
  const what1 = what();
  const u = await paired(ctx.runs, { ours, js: async () => perCall(CALLS, () => readSmapsJs()) });
  const text = fs.readFileSync('/proc/self/smaps');
  const vmas = parseSmaps(text).length;

  const results = [];
  if (reader.unsupported) {
    results.push({ row: '1', what: what1, unsupported: `baseline cannot run: ${reader.unsupported}` });
  } else {
    results.push({
      row: '1',
      what: what1,
      ours: summary(t.ours),
      baseline: { label: 'C read of the same file, no parse', ...summary(t.c) },
      ratio: summary(ratios(t.ours, t.c)),
      target: '≤ 1.25×',
      limit: { max: 1.25 },
      dependsOn: "the kernel's smaps text generation (a page-table walk and ~25 printed fields per VMA) against the CPU's speed at parsing and building objects: slower text generation brings the ratio toward 1×, a slower CPU pushes it up",
      details: { calls: CALLS },
    });
  }
  const speedup = summary(ratios(u.js, u.ours));
  results.push({
    row: '2',
    what: `the same (${vmas} VMAs by now), vs a plain JS parser`,
    ours: summary(u.ours),
    baseline: { label: 'readFileSync+split+regex', ...summary(u.js) },
    ratio: summary(ratios(u.ours, u.js)),
    target: 'report speedup',
    dependsOn: "V8's regex and string speed against C++ parsing, both on top of the same smaps text generation: the larger the kernel's share of the time, the closer to 1×",
    note: `ours is ${speedup.median.toFixed(2)}× faster than the plain JS parser (${speedup.min.toFixed(2)}–${speedup.max.toFixed(2)}); both return identical records: ${sameRecords(parseSmaps(text), require('../js-smaps').parseSmapsText(text.toString()))}`,
    details: { calls: CALLS, speedup },
  });

  // The profile of row 1: where a readSmaps call goes.
  const med = (xs) => summary(xs).median;
  const profile = {
    'readSmaps total (row 1, ours)': med(t.ours),
    'kernel: generate + copy the text (row 1, C baseline)': reader.unsupported ? NaN : med(t.c),
    'rest of readSmaps: reading in the addon + parse + objects (ours − C)': reader.unsupported ? NaN : med(t.ours) - med(t.c),
    'the same read from inside this process (probe, C, one large buffer)': p.error ? 'n/a' : med(t.readInNode),
    [`on a copy of the text saved at the start of row 1 (${vmas1} VMAs, same loop):`]: '',
    '  parseSmaps(buffer): C++ parse, flat hand-over, objects built in JS': med(t.objects),
    '    of which the addon: parse + flat hand-over (binding.parseSmaps)': med(t.flat),
    '    of which building the objects in JS': med(t.objects) - med(t.flat),
  };
  if (p.error) profile['(no probe)'] = p.error;
  else profile['    of which the C++ parse alone (native/smaps.cc, -O2)'] = med(t.parse);
  ctx.profile('1', profile);
  return results;
};
