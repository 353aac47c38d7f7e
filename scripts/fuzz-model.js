#!/usr/bin/env node
// npm run fuzz:model — the model-based fuzzer of the native API and the raw binding
// (test/fuzz/), run long: seed after seed, each in a child process, until the seed count or the
// time is used up. Every finding is printed with its seed and a shrunk sequence that reproduces
// it (`--replay FILE` runs one again). npm test runs the same fuzzer briefly (test/fuzz/model.test.ts).
// Usage: npm run fuzz:model -- [--seeds N] [--minutes M] [--from SEED] [--runs R] [--steps S]
//                               [--families core,transfer,...|all] [--replay FILE]
// Defaults (env in brackets): 12 seeds [HUGESPAN_FUZZ_SEEDS], no time limit [HUGESPAN_FUZZ_MINUTES],
// from 1, 100 runs of up to 60 steps per seed, the families npm test runs (ENABLED).
// Exit status: non-zero if anything was found.
'use strict';
require('../test/fuzz/ts-hook.js');
const fs = require('node:fs');
const { fuzzSeed, runChild, describe } = require('../test/fuzz/driver.ts');
const { ENABLED, FAMILIES } = require('../test/fuzz/commands.ts');

function args(argv) {
  const o = {};
  for (let i = 0; i < argv.length; i++) {
    const m = /^--([a-z-]+)$/.exec(argv[i]);
    if (!m) throw new Error(`fuzz:model: unexpected argument ${argv[i]}`);
    o[m[1]] = argv[++i];
  }
  return o;
}

async function main() {
  const a = args(process.argv.slice(2));
  const num = (v, d) => (v === undefined || v === '' ? d : Number(v));
  const all = Object.keys(FAMILIES).filter((f) => f !== 'selfTest');
  const famArg = a.families ?? process.env.HUGESPAN_FUZZ_FAMILIES;
  const families = !famArg ? ENABLED : famArg === 'all' ? all : famArg.split(',');
  const tag = famArg ?? 'enabled';
  for (const f of families) if (!all.includes(f)) throw new Error(`fuzz:model: no family ${f} (have ${all.join(', ')})`);

  if (a.replay) {
    const steps = JSON.parse(fs.readFileSync(a.replay, 'utf8'));
    const r = await runChild({ mode: 'replay', families, steps });
    console.log(r.done ? JSON.stringify(r.done) : `died: signal ${r.signal}, status ${r.status}${r.hung ? ' (hung)' : ''}\n${r.stderr}`);
    process.exit(r.done?.ok ? 0 : 1);
  }

  const seeds = num(a.seeds ?? process.env.HUGESPAN_FUZZ_SEEDS, 12);
  const minutes = num(a.minutes ?? process.env.HUGESPAN_FUZZ_MINUTES, Infinity);
  const from = num(a.from, 1);
  const runs = num(a.runs, 100);
  const steps = num(a.steps, 60);
  const deadline = Date.now() + minutes * 60000;
  console.log(`fuzz:model: families ${families.join(',')}; ${runs} runs of up to ${steps} steps per seed; seeds from ${from}` +
    `${Number.isFinite(seeds) ? `, ${seeds} seeds` : ''}${Number.isFinite(minutes) ? `, at most ${minutes} min` : ''}`);
  let calls = 0;
  let done = 0;
  const findings = [];
  for (let seed = from; done < seeds && Date.now() < deadline; seed++, done++) {
    const t0 = Date.now();
    const r = await fuzzSeed(seed, families, runs, steps);
    calls += r.calls;
    console.log(`seed ${seed}: ${r.calls} calls, ${((Date.now() - t0) / 1000).toFixed(1)} s: ${r.finding ? r.finding.kind.toUpperCase() : 'ok'}`);
    if (r.finding) {
      findings.push(r.finding);
      console.log(describe(r.finding));
      const file = `/tmp/hugespan-fuzz-model-${tag.replace(/,/g, '+').slice(0, 60)}-seed${seed}.json`;
      fs.writeFileSync(file, JSON.stringify(r.finding.steps, null, 1));
      console.log(`  replay: npm run fuzz:model --${famArg ? ` --families ${famArg}` : ''} --replay ${file}`);
    }
  }
  console.log(`fuzz:model: ${done} seeds, ${calls} calls, ${findings.length} findings`);
  process.exit(findings.length ? 1 : 0);
}

main().catch((e) => {
  console.error(e);
  process.exit(2);
});
