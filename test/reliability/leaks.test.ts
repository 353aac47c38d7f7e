/**
 * Leaks and lifetimes, measured in a fresh process: 100 000 map/advise/touch/unmap cycles and
 * 10 000 mappings left to the garbage collector leave RSS where it started (within 1 MiB), with
 * every mapping unmapped exactly once (counted natively, from munmaps the kernel accepted).
 */
import { runChild, ASAN_REASON } from '../support/child';

const PAGE = 4096;

describe('no leaks', () => {
  it('100 000 map/advise/touch/view/unmap cycles: every mapping unmapped once, RSS back within 1 MiB', () => {
    const r = runChild(
      `
      const tick = () => new Promise((r) => setImmediate(r));
      const settle = async () => { for (let i = 0; i < 8; i++) { global.gc(); await tick(); } };
      const rss = () => readSmapsRollup().anonymous; // anonymous RSS: file pages of node's own text fault in as new code runs
      // The event loop turns every 1000 cycles, as in any real program: that is when the
      // collector's finalizers run and free the ~300 bytes of bookkeeping per dropped handle.
      const cycle = async (n) => { for (let i = 0; i < n; i++) { if (i % 1000 === 999) await tick(); const m = binding.map(${16 * PAGE}, ${PAGE}, true); binding.madvise(m.address, ${16 * PAGE}, i % 2 ? 'hugepage' : 'nohugepage'); binding.touch(m.address, ${16 * PAGE}); const v = binding.view(m.address, ${PAGE}); v[0]++; binding.unmap(m.address); } };
      (async () => {
        await cycle(20000); await settle(); // warm up: JIT, malloc arenas
        const growth = [];
        for (let k = 0; k < 4; k++) { const r0 = rss(); await cycle(25000); await settle(); growth.push(rss() - r0); }
        const c = binding.counters();
        console.log(JSON.stringify({ growth, left: binding.mappings().length, mapped: c.mapped, unmapped: c.unmapped }));
      })();`,
      { nodeArgs: ['--expose-gc'] },
    );
    expect(r.stderr).toBe('');
    expect(r.json.left).toBe(0);
    // The counters count only munmaps the kernel accepted. (No "no VMA at our old addresses"
    // check: malloc and V8 map their own memory there as soon as it is free.)
    expect(r.json.mapped).toBe(120000);
    expect(r.json.unmapped).toBe(120000);
    if (ASAN_REASON) return void process.stderr.write(`skipping the RSS check: ${ASAN_REASON}\n`);
    // 4 rounds of 25 000: a leak grows every round; one round's noise does not move the median.
    const growth = [...r.json.growth].sort((x: number, y: number) => x - y);
    expect((growth[1] + growth[2]) / 2).toBeLessThan(1 << 20);
    expect(growth.reduce((x: number, y: number) => x + y, 0)).toBeLessThan(4 << 20);
  });

  it('10 000 mappings left to the collector, round after round: all unmapped, once, RSS back within 1 MiB', () => {
    const r = runChild(
      `
      const mappedNow = () => { const c = binding.counters(); return c.mapped - c.unmapped; };
      // Finalizers run in batches as the event loop turns: collect until none is left (bounded).
      const settle = async () => { for (let i = 0; i < 100 && (i < 8 || mappedNow() > 0); i++) { global.gc(); await new Promise((r) => setImmediate(r)); } };
      const rss = () => readSmapsRollup().anonymous; // anonymous RSS: file pages of node's own text fault in as new code runs
      // VMAs holding any of the (sorted) addresses: one sweep, no garbage to grow the JS heap.
      const holding = (addrs) => { let n = 0, k = 0; for (const v of readSmaps()) { while (k < addrs.length && addrs[k] < v.start) k++; if (k < addrs.length && addrs[k] < v.end) n++; } return n; };
      const round = (n) => { const a = new Float64Array(n); for (let i = 0; i < n; i++) { const m = binding.map(${4 * PAGE}, ${PAGE}, true); a[i] = m.address; binding.touch(m.address, ${4 * PAGE}); if (i % 3 === 0) binding.view(m.address, ${PAGE}); } return a.sort(); };
      (async () => {
        for (let w = 0; w < 2; w++) { round(10000); await settle(); } // warm up at full size: V8 and malloc grow once, then reuse
        const rounds = [];
        for (let k = 0; k < 3; k++) {
          const r0 = rss();
          const addrs = round(10000);
          const held = holding(addrs);
          await settle();
          const c = binding.counters();
          rounds.push({ held, left: binding.mappings().length, stillMapped: c.mapped - c.unmapped, growth: rss() - r0 });
        }
        console.log(JSON.stringify(rounds));
      })();`,
      { nodeArgs: ['--expose-gc'] },
    );
    expect(r.stderr).toBe('');
    process.stderr.write(`collector rounds: ${JSON.stringify(r.json)}\n`);
    for (const round of r.json) {
      expect(round.held).toBeGreaterThan(0);
      expect(round.left).toBe(0);
      expect(round.stillMapped).toBe(0);
    }
    if (ASAN_REASON) return void process.stderr.write(`skipping the RSS check: ${ASAN_REASON}\n`);
    // A leak grows every round; one round's noise (malloc, V8 pages) does not move the median.
    const growth = r.json.map((x: { growth: number }) => x.growth).sort((a: number, b: number) => a - b);
    expect(growth[1]).toBeLessThan(1 << 20);
    expect(growth[0] + growth[1] + growth[2]).toBeLessThan(3 << 20);
  });
});
