/**
 * Advice latency compared like with like: classes by advice and size with their counts, a p99
 * only where a class has the samples for one, runs compared by size-matched medians.
 */
import { adviceLatency, matchedP50Ratio, MIN_P99_SAMPLES } from '../../src/lab/latency';

const calls = (n: number, bytes: number, advice: string, ns: (k: number) => number) => ({
  ns: Array.from({ length: n }, (_, k) => ns(k)),
  bytes: Array(n).fill(bytes) as number[],
  advice: Array(n).fill(advice) as string[],
});
const join = (...parts: ReturnType<typeof calls>[]) =>
  adviceLatency(Float64Array.from(parts.flatMap((p) => p.ns)), Float64Array.from(parts.flatMap((p) => p.bytes)), parts.flatMap((p) => p.advice));

describe('adviceLatency', () => {
  it('groups by advice and power-of-two size, with counts and totals; no p99 under MIN_P99_SAMPLES calls', () => {
    const l = join(calls(93, 8192, 'free', (k) => 1000 + k), calls(1200, 2 << 20, 'dontneed', (k) => 5000 + k));
    expect(l.calls).toBe(1293);
    expect(l.totalNs).toBe(93 * 1000 + (92 * 93) / 2 + 1200 * 5000 + (1199 * 1200) / 2);
    expect(l.classes.map((c) => [c.advice, c.maxBytes, c.calls])).toEqual([
      ['dontneed', 2 << 20, 1200],
      ['free', 8192, 93],
    ]);
    const free = l.classes[1];
    expect(free.p99).toBeNull(); // 93 calls: a "p99" would be the maximum
    expect(free.p90).toBeNull();
    expect(free.p50).toBe(1046);
    expect(l.classes[0].p99).toBe(5000 + Math.floor(0.99 * 1200));
    expect(l.p99).not.toBeNull();
    expect(join(calls(MIN_P99_SAMPLES - 1, 4096, 'free', () => 1)).p99).toBeNull();
  });

  it('compares two runs by the p50s of the classes both have, weighted by the smaller count, not by their mix of sizes', () => {
    // b makes mostly big calls (slow), a mostly small ones; per class, a is exactly 2× slower.
    const a = join(calls(500, 8192, 'free', () => 2000), calls(40, 4 << 20, 'free', () => 200_000));
    const b = join(calls(40, 8192, 'free', () => 1000), calls(500, 4 << 20, 'free', () => 100_000));
    expect(a.totalNs).toBeLessThan(b.totalNs); // totals say a is cheaper: its calls are smaller
    const m = matchedP50Ratio(a, b)!;
    expect(m.ratio).toBeCloseTo(2, 10);
    expect(m).toMatchObject({ classes: 2, calls: 80 });
    expect(matchedP50Ratio(join(calls(10, 8192, 'free', () => 1)), b)).toBeNull(); // too few calls to match
  });
});
