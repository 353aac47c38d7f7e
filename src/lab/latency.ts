/**
 * Advice latency, compared like with like: every timed madvise grouped by advice and size class
 * (the power of two at or above its length), with its sample count, and runs compared by total
 * advice time and by per-class medians — never by a p99 over too few calls to have one.
 * Invariant: a percentile is reported only where the class has the samples to resolve it
 * (p99 from MIN_P99_SAMPLES calls, p90 from 100), else null.
 */

/** Calls a class needs before its p99 means more than "near the maximum". */
export const MIN_P99_SAMPLES = 1000;
const MIN_P90_SAMPLES = 100;
/** Calls per class (in each run) for a class to enter the size-matched comparison. */
export const MIN_MATCHED_SAMPLES = 30;

export interface AdviceClass {
  advice: string;
  /** Calls of at most this many bytes (and more than half of it). */
  maxBytes: number;
  calls: number;
  totalNs: number;
  p50: number;
  p90: number | null;
  p99: number | null;
}

export interface AdviceLatency {
  calls: number;
  /** All the heap's advice time over the run, ns. */
  totalNs: number;
  p50: number;
  /** Over all calls; null below MIN_P99_SAMPLES calls. */
  p99: number | null;
  max: number;
  classes: AdviceClass[];
}

const pct = (sorted: number[], q: number) => (sorted.length ? sorted[Math.min(sorted.length - 1, Math.floor(q * sorted.length))] : 0);

export function adviceLatency(ns: Float64Array, bytes: Float64Array, advice: readonly string[]): AdviceLatency {
  const groups = new Map<string, { advice: string; maxBytes: number; ns: number[] }>();
  let totalNs = 0;
  for (let i = 0; i < ns.length; i++) {
    const maxBytes = 2 ** Math.ceil(Math.log2(Math.max(1, bytes[i])));
    const key = `${advice[i]}:${maxBytes}`;
    let g = groups.get(key);
    if (!g) groups.set(key, (g = { advice: advice[i], maxBytes, ns: [] }));
    g.ns.push(ns[i]);
    totalNs += ns[i];
  }
  const classes = [...groups.values()]
    .map(({ advice: a, maxBytes, ns: xs }) => {
      xs.sort((x, y) => x - y);
      return {
        advice: a,
        maxBytes,
        calls: xs.length,
        totalNs: xs.reduce((s, x) => s + x, 0),
        p50: pct(xs, 0.5),
        p90: xs.length >= MIN_P90_SAMPLES ? pct(xs, 0.9) : null,
        p99: xs.length >= MIN_P99_SAMPLES ? pct(xs, 0.99) : null,
      };
    })
    .sort((a, b) => (a.advice < b.advice ? -1 : a.advice > b.advice ? 1 : a.maxBytes - b.maxBytes));
  const all = Array.from(ns).sort((x, y) => x - y);
  return { calls: all.length, totalNs, p50: pct(all, 0.5), p99: all.length >= MIN_P99_SAMPLES ? pct(all, 0.99) : null, max: all.length ? all[all.length - 1] : 0, classes };
}

/**
 * Run a's per-call median over run b's, size-matched: over the (advice, size) classes both have
 * with at least MIN_MATCHED_SAMPLES calls, the ratio of p50s weighted by the smaller count.
 * null when no class matches.
 */
export function matchedP50Ratio(a: AdviceLatency, b: AdviceLatency): { ratio: number; classes: number; calls: number } | null {
  let w = 0;
  let sum = 0;
  let classes = 0;
  for (const ca of a.classes) {
    const cb = b.classes.find((c) => c.advice === ca.advice && c.maxBytes === ca.maxBytes);
    if (!cb || ca.calls < MIN_MATCHED_SAMPLES || cb.calls < MIN_MATCHED_SAMPLES || cb.p50 === 0) continue;
    const n = Math.min(ca.calls, cb.calls);
    sum += n * Math.log(ca.p50 / cb.p50);
    w += n;
    classes++;
  }
  return classes ? { ratio: Math.exp(sum / w), classes, calls: w } : null;
}
