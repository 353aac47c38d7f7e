/**
 * The background scavenger as Go 1.13 runs it (`runtime/mgcscavenge.go` at go1.13:
 * `gcPaceScavenger`, `bgscavenge`, `scavengeSleep`), step for step:
 *
 * | here | runtime |
 * |---|---|
 * | `pace(nextGC)`: retainedGoal = next_gc + next_gc/10, rounded up to the OS page | `gcPaceScavenger`: `retainedGoal += retainedGoal / (1.0 / (retainExtraPercent / 100.0))` |
 * | parked (rate 0) when retained ≤ goal at pacing time | `gcPaceScavenger`: `scavengeBytesPerNS = 0` |
 * | work = retained − goal; huge work = min(unscavHugePages, work / hugepage) whole huge pages; each huge page and each remaining OS page priced at 1 ms (10 µs per madvise at 1 % of a CPU); rate = work / time | `gcPaceScavenger`, `scavengePercent`, `scavengePageLatency`, `scavengeHugePagePeriod` |
 * | the heap's `scavengeRetainedGoal` is set at every pacing | `mheap_.scavengeRetainedGoal` (read by `scavengeIfNeededLocked`) |
 * | `step()`: park if rate is 0 or retained ≤ goal; else want = basis − rate × (now − timeBasis), **not** clamped to the goal; if retained > want, one `scavenge(retained − want)`; a negative want (past the line's end) releases nothing, as the runtime's uint64 subtraction wraps | `bgscavenge` (one `scavengeLocked` call under the heap lock) |
 * | over-released by `extra`: sleep extra / rate if that is more than 100 µs, else yield (next step at once) | `bgscavenge`: `ttnext`, `minSleepNS = 100 µs`, `Gosched()` |
 * | nothing released: sleep `retryDelay` (from 100 µs), doubling it after every sleep that ran its full length; reset on a release | `bgscavenge`: `retryDelayNS`, `scavengeSleep`'s return |
 * | parked until the next `pace()` (the next GC); a pacing wakes it | `bgscavenge` `goparkunlock`, `wakeScavengerLocked` |
 *
 * Simplified: the runtime's sleeps are timers and its yield is `Gosched`; here `step()` returns
 * the sleep and a driver calls it again — the lab on its program clock (so the 1 %-of-a-CPU pace
 * is in program time), `start()` on real unref'd timers. A sleep cut short by a pacing counts as
 * not full (no doubling), as `scavengeSleep` reports it.
 */

import type { RuntimeHeap } from './runtime-heap';
import { runtimeHeapArg } from './runtime-heap';
import { functionArg, guardReceivers, numberArg, optional, optionsArg } from '../native/args';

/** Share of one CPU the scavenger may use (`scavengePercent`). */
const scavengePercent = 1;
/** Order-of-magnitude cost of one madvise releasing one page, huge or not (`scavengePageLatency`, 10 µs). */
const scavengePageLatencyMs = 0.01;
/** Time budget per page released: 1 ms. The runtime prices huge and OS pages alike, so huge pages release 512× faster. */
const scavengePagePeriodMs = scavengePageLatencyMs / (scavengePercent / 100);
/** Memory kept above the heap goal, so allocation finds unscavenged memory and doesn't fault (`retainExtraPercent`). */
const retainExtraPercent = 10;
/** `minSleepNS`: 100 µs. */
export const MIN_SLEEP_MS = 0.1;
/** On its timer, a parked scavenger looks every this many ms whether its heap was closed (and does nothing else). */
const PARKED_POLL_MS = 50;

export interface ScavengerOptions {
  /** The heap goal in bytes (the runtime's next_gc); retained is driven to 1.1 × this. */
  heapGoal: number;
  /** Clock in milliseconds; default performance.now. */
  now?: () => number;
}

export interface ScavengeStep {
  /** Bytes released by this step. */
  released: number;
  /** When the next step is due, in ms from now (0: yield, then run again); Infinity when parked. */
  sleepMs: number;
  /** Nothing to do until the next pace(): retained is at or below the goal, or the rate is 0. */
  parked: boolean;
}

function checkNonNegative(name: string, value: number): number {
  return numberArg(value, name, 0, Number.MAX_VALUE);
}

export class BackgroundScavenger {
  readonly heap: RuntimeHeap;
  /** The pacing line: retained should be ≤ retainedBasis − bytesPerMs × (now − timeBasis); bytesPerMs 0 means parked. */
  private line = { heapGoal: 0, retainedGoal: 0, retainedBasis: 0, timeBasis: 0, bytesPerMs: 0 };
  private releasedTotal = 0;
  private readonly now: () => number;
  /** `retryDelayNS`. */
  private retryMs = MIN_SLEEP_MS;
  /** The sleep in progress: when it started and for how long (to tell a full sleep from one cut short). */
  private sleeping: { from: number; ms: number; retry: boolean } | undefined;
  private isParked = false;
  private timer: NodeJS.Timeout | undefined;
  private active = false;
  private failure: unknown;
  private finished: Promise<void> = Promise.resolve();
  private settle: { resolve(): void; reject(err: unknown): void } | undefined;

  constructor(heap: RuntimeHeap, opts: ScavengerOptions) {
    this.heap = runtimeHeapArg(heap);
    const o = optionsArg<ScavengerOptions>(opts, 'opts', ['heapGoal', 'now']);
    if (o.heapGoal === undefined) numberArg(o.heapGoal, 'opts.heapGoal');
    this.now = (optional(o.now, functionArg, 'opts.now') as (() => number) | undefined) ?? (() => performance.now());
    this.pace(o.heapGoal as number);
  }

  get running(): boolean {
    return this.active;
  }

  /** Parked until the next pace(). */
  get parked(): boolean {
    return this.isParked;
  }

  get heapGoal(): number {
    return this.line.heapGoal;
  }

  /** What retained is driven to: 1.1 × heapGoal, rounded up to the OS page. */
  get retainedGoal(): number {
    return this.line.retainedGoal;
  }

  /** The line's slope; 0 when there is nothing to do. */
  get bytesPerMs(): number {
    return this.line.bytesPerMs;
  }

  /** Bytes released since construction. */
  get released(): number {
    return this.releasedTotal;
  }

  /** The current back-off after a step that released nothing. */
  get retryDelayMs(): number {
    return this.retryMs;
  }

  /**
   * gcPaceScavenger: set the goal, publish it to the heap, draw a new line from (now, retained)
   * down to it, and wake the scavenger.
   */
  pace(heapGoal = this.line.heapGoal): void {
    checkNonNegative('heapGoal', heapGoal);
    const { physPageSize, physHugePageSize: h } = this.heap;
    let retainedGoal = heapGoal + Math.floor(heapGoal / (1 / (retainExtraPercent / 100)));
    retainedGoal = Math.ceil(retainedGoal / physPageSize) * physPageSize;
    this.heap.scavengeRetainedGoal = retainedGoal;
    const retained = this.heap.retained;
    const now = this.now();
    if (retained <= retainedGoal) {
      // Published, and the scavenger disabled until the next pacing; a parked one stays parked.
      this.line = { heapGoal, retainedGoal, retainedBasis: retained, timeBasis: now, bytesPerMs: 0 };
      return;
    }
    const totalWork = retained - retainedGoal;
    let regularWork = totalWork;
    let hugeTime = 0;
    if (h !== 0) {
      let hugeWork = this.heap.freeHugePages * h;
      if (hugeWork >= totalWork) hugeWork = Math.floor(totalWork / h) * h;
      regularWork = totalWork - hugeWork;
      hugeTime = (hugeWork / h) * scavengePagePeriodMs;
    }
    const regularTime = Math.floor(regularWork / physPageSize) * scavengePagePeriodMs;
    const bytesPerMs = totalWork / (hugeTime + regularTime);
    this.line = { heapGoal, retainedGoal, retainedBasis: retained, timeBasis: now, bytesPerMs };
    // wakeScavengerLocked: a parked or sleeping scavenger runs again now; a sleep cut short is not a
    // full one (no doubling), one that had already run its length is.
    this.isParked = false;
    this.#endSleep(now);
    if (this.active) this.#schedule(0);
  }

  /**
   * One pass of bgscavenge's loop: park, or scavenge down to the line in one call, then say how
   * long to sleep (0: yield and come back at once).
   */
  step(): ScavengeStep {
    const now = this.now();
    this.#endSleep(now);
    if (this.heap.closed) return this.#park();
    if (this.isParked) return this.#park(); // only pace() (the next GC) unparks it
    const retained = this.heap.retained;
    const { retainedGoal, retainedBasis, timeBasis, bytesPerMs } = this.line;
    if (bytesPerMs === 0 || retained <= retainedGoal) return this.#park();
    const want = retainedBasis - bytesPerMs * (now - timeBasis);
    let released = 0;
    // Past the line's end `want` is negative: the runtime's uint64 `retainedBasis - rdist` wraps to
    // a huge value there, so `retained > want` is false and nothing is released (not everything).
    if (want >= 0 && retained > want) released = this.heap.scavenge(retained - want);
    this.releasedTotal += released;
    if (released === 0) return this.#sleep(now, this.retryMs, true, 0);
    this.retryMs = MIN_SLEEP_MS;
    const extra = released - (retained - want);
    const ttnext = extra > 0 ? extra / bytesPerMs : 0;
    if (ttnext > MIN_SLEEP_MS) return this.#sleep(now, ttnext, false, released);
    return { released, sleepMs: 0, parked: false }; // Gosched
  }

  /** scavengeSleep returned: it was full if the whole delay passed; only then the retry delay doubles. */
  #endSleep(now: number): void {
    // Compared to the nanosecond, as the runtime's integer clock does (no floating-point near-miss).
    if (this.sleeping?.retry && now - this.sleeping.from >= this.sleeping.ms - 1e-6) this.retryMs *= 2;
    this.sleeping = undefined;
  }

  #park(): ScavengeStep {
    this.isParked = true;
    return { released: 0, sleepMs: Infinity, parked: true };
  }

  #sleep(now: number, ms: number, retry: boolean, released: number): ScavengeStep {
    this.sleeping = { from: now, ms, retry };
    return { released, sleepMs: ms, parked: false };
  }

  /** Why the timer loop stopped on its own, if a step threw. */
  get error(): unknown {
    return this.failure;
  }

  /**
   * Run step() on a timer until stop() (or until the heap is closed). The timer is unref'd: it never
   * keeps the process alive. If a step throws, the scavenger stops, keeps the error in `error`, and
   * the promise stop() returns rejects with it; a failure nobody awaits does not crash the process.
   */
  start(): this {
    if (this.active) return this;
    this.active = true;
    this.failure = undefined;
    this.finished = new Promise<void>((resolve, reject) => {
      this.settle = { resolve, reject };
    });
    this.finished.catch(() => {});
    this.#schedule(0);
    return this;
  }

  /** Stop and clear the timer; resolves once stopped. */
  stop(): Promise<void> {
    if (this.active) this.#finish();
    return this.finished;
  }

  #schedule(ms: number): void {
    clearTimeout(this.timer);
    this.timer = setTimeout(() => this.#tick(), ms);
    this.timer.unref();
  }

  #tick(): void {
    this.timer = undefined;
    if (this.heap.closed) return this.#finish();
    let next: ScavengeStep;
    try {
      next = this.step();
    } catch (err) {
      return this.#finish(err);
    }
    // Parked: pace() wakes it. Until then only a slow check that the heap is still open, so that
    // closing the heap stops the timer loop (the runtime's scavenger never outlives its heap).
    this.#schedule(next.parked ? PARKED_POLL_MS : next.sleepMs);
  }

  #finish(err?: unknown): void {
    clearTimeout(this.timer);
    this.timer = undefined;
    this.active = false;
    if (err === undefined) {
      this.settle?.resolve();
    } else {
      this.failure = err;
      this.settle?.reject(err);
    }
  }

  readonly #brand = true;

  static {
    guardReceivers(this, (o) => #brand in o);
  }
}

/** Pace a scavenger for heap and start it on its timer. */
export function startScavenger(heap: RuntimeHeap, opts: ScavengerOptions): BackgroundScavenger {
  // (the constructor checks both)
  return new BackgroundScavenger(heap, opts).start();
}
