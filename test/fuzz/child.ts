/**
 * One fuzzing child (started by driver.ts as `node --expose-gc … child.ts '<json job>'`).
 * Invariant: before each step runs, its JSON is on stdout ("STEP …", written synchronously), and
 * each run opens with "RUN n": if this process dies, the parent holds the exact sequence of the
 * run that killed it. The last line is "DONE {json}" when the process lives to the end.
 * Modes: `check` runs fast-check's model-based property (fc.commands + fc.asyncModelRun) with a
 * seed, shrinking a mismatch here; `replay` runs one given sequence once.
 */
import * as fs from 'node:fs';
import fc from 'fast-check';
import { binding } from '../../dist/native/binding';
import { commandArbs, Ctx, Family, Step, StepCommand, resetHeap, settle } from './commands';
import { emptyModel, Model } from './model';
import type { Real } from './kernel';

export interface Job {
  mode: 'check' | 'replay';
  families: Family[];
  seed?: number;
  runs?: number;
  maxCommands?: number;
  steps?: Step[];
  /** Arm the planted steps (selfCrash, selfLie) that prove the harness sees a failure. */
  selfTest?: boolean;
}

const say = (line: string) => fs.writeSync(1, line + '\n');
let runNo = 0;
let calls = 0;
const log = (s: Step) => {
  calls++;
  say(`STEP ${JSON.stringify(s)}`);
};

function fresh(): Ctx {
  say(`RUN ${runNo++}`);
  return { model: emptyModel(), real: { objs: [], views: new Map(), moved: new Map(), base: binding.counters(), notes: [] } };
}

/** Let go of a run's memory, so the next run starts from settled counters. */
async function cleanup(c: Ctx): Promise<void> {
  for (const x of c.model.maps) {
    if (!x.live) continue;
    try {
      if (x.via === 'class') c.real.objs[x.id].unmap();
      else binding.unmap(c.real.objs[x.id]);
    } catch {
      // the run's own failure is what gets reported
    }
  }
  c.real.objs.length = 0;
  c.real.views.clear();
  c.real.moved.clear();
  resetHeap();
  await settle();
}

async function runOnce(cmds: Iterable<fc.AsyncCommand<Model, Real>>): Promise<void> {
  const c = fresh();
  try {
    await fc.asyncModelRun(() => ({ model: c.model, real: c.real }), cmds);
  } finally {
    await cleanup(c);
  }
}

async function main(job: Job): Promise<void> {
  if (job.selfTest) process.env.HUGESPAN_FUZZ_SELFTEST = '1';
  if (job.mode === 'replay') {
    const cmds = (job.steps ?? []).map((s) => new StepCommand(s, log));
    try {
      await runOnce(cmds);
      say(`DONE ${JSON.stringify({ ok: true, calls })}`);
    } catch (e) {
      say(`DONE ${JSON.stringify({ ok: false, calls, error: String((e as Error)?.message ?? e) })}`);
    }
    return;
  }
  const prop = fc.asyncProperty(fc.commands(commandArbs(job.families, log), { maxCommands: job.maxCommands ?? 40, size: 'max' }), runOnce);
  const r = await fc.check(prop, { seed: job.seed, numRuns: job.runs ?? 10 });
  if (!r.failed) {
    say(`DONE ${JSON.stringify({ ok: true, calls, runs: r.numRuns })}`);
    return;
  }
  const steps = r.counterexample ? [...(r.counterexample[0] as Iterable<any>)].map((c) => (c.cmd ?? c).step as Step) : [];
  const error = String((r.errorInstance as Error)?.message ?? r.errorInstance);
  say(`DONE ${JSON.stringify({ ok: false, calls, runs: r.numRuns, seed: r.seed, path: r.counterexamplePath, shrinks: r.numShrinks, error, steps })}`);
}

main(JSON.parse(process.argv[2]) as Job).then(
  () => process.exit(0),
  (e) => {
    say(`DONE ${JSON.stringify({ ok: false, calls, error: `the child itself failed: ${(e as Error)?.stack ?? e}` })}`);
    process.exit(0);
  },
);
