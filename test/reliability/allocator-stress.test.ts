/**
 * The allocator under stress in `npm test`: 60 000 seeded ops over four seeds on the model
 * (invariants and count = recount after every op, exhaustion and recovery, every refusal
 * leaving the heap as it was), and 5 000 on real memory. The long run is `npm run stress`.
 * HUGESPAN_MODEL_SEEDS=1 keeps one model seed: no-thp.test.ts re-runs this file under
 * PR_SET_THP_DISABLE, where only the real-memory run can tell anything new (the model never
 * touches the kernel), so it does not pay for the other three again.
 */
import { stress } from '../../src/lab/stress';
import { LinuxMemory } from '../../src/sys/linux';
import { heavyCount } from '../support/child';

const SEEDS = [1, 2, 3, 4].slice(0, heavyCount('HUGESPAN_MODEL_SEEDS', 4));

describe('allocator stress', () => {
  it.each(SEEDS)('seed %d: 15 000 ops, invariants after every op', (seed) => {
    const r = stress({ ops: 15000, seed });
    expect(r.ops).toBe(15000);
    expect(r.checks).toBe(15000);
    expect(r.refusals.ERR_HUGESPAN_ARENA_EXHAUSTED).toBeGreaterThan(0);
    expect(r.recoveries).toBeGreaterThan(0);
    expect(r.refusals.ERR_HUGESPAN_DOUBLE_FREE).toBeGreaterThan(0);
    expect(r.refusals.ERR_HUGESPAN_FOREIGN_SPAN).toBeGreaterThan(0);
    expect(Object.keys(r.refusals).length).toBeGreaterThanOrEqual(5);
  });

  it('on real memory: 5 000 ops, invariants after every op', () => {
    const r = stress({ ops: 5000, seed: 5, memory: () => new LinuxMemory() });
    expect(r.checks).toBe(5000);
    expect(r.recoveries).toBeGreaterThan(0);
  });
});
