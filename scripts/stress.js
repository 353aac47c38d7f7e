#!/usr/bin/env node
// The long allocator run (issue: reliability): 1 000 000 seeded ops per seed by default, with
// the heap's invariants and count = recount checked after every op, exhaustion and recovery,
// and every refusal checked to change nothing. Usage: npm run stress [-- OPS [SEED...]]
'use strict';
const { stress } = require('../dist/lab/stress');
const { LinuxMemory } = require('../dist/sys/linux');

const [opsArg, ...seedArgs] = process.argv.slice(2);
const ops = Number(opsArg ?? 1_000_000);
const seeds = seedArgs.length ? seedArgs.map(Number) : [1, 2];
let failed = 0;
for (const seed of seeds) {
  for (const memory of ['model', 'linux']) {
    const t0 = process.hrtime.bigint();
    try {
      const r = stress({ ops: memory === 'linux' ? Math.min(ops, 200_000) : ops, seed, memory: memory === 'linux' ? () => new LinuxMemory() : undefined });
      const s = Number(process.hrtime.bigint() - t0) / 1e9;
      console.log(`seed ${seed} ${memory.padEnd(5)} ${r.ops} ops (${r.allocs} allocs, ${r.frees} frees, ${r.scavenges} scavenges), ${r.checks} checks, ` +
        `${r.recoveries} recoveries from exhaustion, refusals ${JSON.stringify(r.refusals)}, ${s.toFixed(1)} s: ok`);
    } catch (e) {
      failed++;
      console.log(`seed ${seed} ${memory}: FAILED: ${e.message}`);
    }
  }
}
console.log(`stress: ${seeds.length * 2 - failed} passed, ${failed} failed`);
process.exit(failed ? 1 : 0);
