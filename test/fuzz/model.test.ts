/**
 * The model-based fuzzer's short fixed-seed pass (npm run fuzz:model runs it long), and proof
 * that its harness can fail: a planted abort is seen and shrunk to the one step that aborts,
 * a planted lie in the model is caught by the kernel read-back.
 */
import { fuzzSeed, describe as describeFinding, runChild, shrinkDeath } from './driver';
import { ENABLED, Step } from './commands';

const SEEDS = [1, 2];
const RUNS = 15;
const STEPS = 50;

describe('model-based fuzzer (test/fuzz)', () => {
  it(`finds nothing in ${SEEDS.length} fixed seeds × ${RUNS} runs over the enabled families (${ENABLED.join(', ')})`, async () => {
    let calls = 0;
    for (const seed of SEEDS) {
      const r = await fuzzSeed(seed, ENABLED, RUNS, STEPS);
      calls += r.calls;
      if (r.finding) throw new Error(describeFinding(r.finding));
    }
    expect(calls).toBeGreaterThan(SEEDS.length * RUNS); // the runs did call something
  }, 120000);

  describe('its harness', () => {
    const map: Step = { t: 'map', f: 'core', via: 'binding', pages: 2, align: 'page', commit: false };

    it('sees a child die and shrinks the sequence to the step that kills it', async () => {
      const steps: Step[] = [map, { t: 'commit', f: 'core', k: 0, a: 0, b: 0 }, { t: 'touch', f: 'core', k: 0, a: 0, b: 0 }, { t: 'selfCrash', f: 'selfTest' }, { t: 'settle', f: 'core' }];
      const r = await runChild({ mode: 'replay', families: [], steps, selfTest: true });
      expect(r.done).toBeUndefined();
      expect(r.signal).toBe('SIGABRT');
      expect(r.lastRun.map((s) => s.t)).toEqual(['map', 'commit', 'touch', 'selfCrash']);
      const shrunk = await shrinkDeath([], r.lastRun, 'signal SIGABRT', 60, undefined, { selfTest: true });
      expect(shrunk.map((s) => s.t)).toEqual(['selfCrash']);
    }, 60000);

    it('sees the kernel disagree with the model', async () => {
      const r = await runChild({ mode: 'replay', families: [], steps: [map, { t: 'selfLie', f: 'selfTest', k: 0 }], selfTest: true });
      expect(r.done?.ok).toBe(false);
      expect(r.done?.error).toMatch(/must be read\/write/);
    }, 60000);
  });
});
