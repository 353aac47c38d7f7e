#!/usr/bin/env node
// The long runs that npm test keeps short (issues: reliability, 16, 20). Two parts:
// 1. the allocator: 1 000 000 seeded ops per seed by default, with the heap's invariants and
//    count = recount checked after every op, exhaustion and recovery, and every refusal
//    checked to change nothing;
// 2. the reliability tests of npm test with their counts raised (the same files, so the same
//    checks): 1 000 000 parser mutations, leak rounds of 25 000 cycles / 20 000 dropped
//    mappings, 2 000 ops per kernel-agrees run.
// Usage: npm run stress [-- OPS [SEED...]]   (OPS and SEEDs are for part 1; part 2's counts
// can be set in the environment: HUGESPAN_MUTATIONS, HUGESPAN_LEAK_CYCLES, HUGESPAN_AGREE_OPS...)
// Exit status: non-zero if anything failed.
'use strict';
const path = require('node:path');
const { spawnSync } = require('node:child_process');
const { stress } = require('../dist/lab/stress');
const { LinuxMemory } = require('../dist/sys/linux');

const root = path.join(__dirname, '..');
const [opsArg, ...seedArgs] = process.argv.slice(2);
const ops = Number(opsArg ?? 1_000_000);
const seeds = seedArgs.length ? seedArgs.map(Number) : [1, 2];
let failed = 0;
let passed = 0;
for (const seed of seeds) {
  for (const memory of ['model', 'linux']) {
    const t0 = process.hrtime.bigint();
    try {
      const r = stress({ ops: memory === 'linux' ? Math.min(ops, 200_000) : ops, seed, memory: memory === 'linux' ? () => new LinuxMemory() : undefined });
      const s = Number(process.hrtime.bigint() - t0) / 1e9;
      console.log(`seed ${seed} ${memory.padEnd(5)} ${r.ops} ops (${r.allocs} allocs, ${r.frees} frees, ${r.scavenges} scavenges), ${r.checks} checks, ` +
        `${r.recoveries} recoveries from exhaustion, refusals ${JSON.stringify(r.refusals)}, ${s.toFixed(1)} s: ok`);
      passed++;
    } catch (e) {
      failed++;
      console.log(`seed ${seed} ${memory}: FAILED: ${e.message}`);
    }
  }
}

// Part 2. The counts are read by test/support/child.ts heavyCount(); the child timeout and
// jest's own grow with them (a sync test is never cut short by jest, an async one would be).
const heavy = [
  ['test/reliability/parser-mutations.test.ts', { HUGESPAN_MUTATIONS: '1000000' }],
  ['test/reliability/leaks.test.ts', { HUGESPAN_LEAK_CYCLES: '25000', HUGESPAN_LEAK_DROPS: '20000' }],
  ['test/verify/kernel-agrees.test.ts', { HUGESPAN_AGREE_OPS: '2000' }],
];
for (const [file, env] of heavy) {
  const t0 = process.hrtime.bigint();
  // The caller's environment wins: HUGESPAN_MUTATIONS=... npm run stress tunes a count.
  const effective = { ...env, HUGESPAN_CHILD_TIMEOUT_MS: '1800000', ...process.env };
  console.log(`${file} with ${Object.keys(env).map((k) => `${k}=${effective[k]}`).join(' ')}:`);
  const r = spawnSync(process.execPath, [path.join(root, 'node_modules', 'jest', 'bin', 'jest.js'), '--testTimeout=1800000', file], {
    cwd: root,
    stdio: 'inherit',
    env: effective,
  });
  const s = (Number(process.hrtime.bigint() - t0) / 1e9).toFixed(1);
  if (r.status === 0) {
    passed++;
    console.log(`${file}: ok, ${s} s`);
  } else {
    failed++;
    console.log(`${file}: FAILED (status ${r.status}${r.signal ? `, ${r.signal}` : ''}${r.error ? `, ${r.error.message}` : ''}), ${s} s`);
  }
}
console.log(`stress: ${passed} passed, ${failed} failed`);
process.exit(failed ? 1 : 0);
