/**
 * The background scavenger (Go 1.13's bgscavenge and gcPaceScavenger): drives retained memory
 * (heapSys − heapReleased) down to 1.1 × the heap goal along a straight line in time, whose slope
 * prices each huge page and each OS page released at 1 ms. While running it holds exactly one
 * unref'd timer; once stopped, none.
 */

import type { MHeap } from './mheap';

/** Share of one CPU the scavenger may use. */
const scavengePercent = 1;
/** Order-of-magnitude cost of one madvise releasing one page, huge or not. */
const scavengePageLatencyMs = 0.01;
/** Time budget per page released: 1 ms. The runtime prices huge and OS pages alike, so huge pages release 512× faster. */
const scavengePagePeriodMs = scavengePageLatencyMs / (scavengePercent / 100);
/** Memory kept above the heap goal, so allocation finds unscavenged memory and doesn't fault. */
const retainExtraPercent = 10;

export interface ScavengerOptions {
  /** The heap goal in bytes (the runtime's next_gc); retained is driven to 1.1 × this. */
  heapGoal: number;
  /** Clock in milliseconds; default performance.now. */
  now?: () => number;
  /** Wall time one step may spend scavenging; default 1 ms. */
  maxStepMs?: number;
  /** Shortest sleep between steps; default 1 ms (timer granularity). */
  minSleepMs?: number;
  /** How long a parked scavenger sleeps before re-pacing (the runtime waits for the next GC); default 100 ms. */
  idleMs?: number;
}

export interface ScavengeStep {
  /** Bytes released by this step. */
  released: number;
  /** When the next step is due. */
  sleepMs: number;
  /** Nothing to do: retained is at or below the goal. */
  parked: boolean;
}

function checkNonNegative(name: string, value: number): number {
  if (typeof value !== 'number' || !(value >= 0) || value === Infinity) {
    const message = `${name} must be a finite number ≥ 0; got ${String(value)}`;
    throw Object.assign(new RangeError(message), { code: 'ERR_OUT_OF_RANGE' });
  }
  return value;
}

export class BackgroundScavenger {
  readonly heap: MHeap;
  /**
   * The pacing line: retained should be ≤ retainedBasis − bytesPerMs × (now − timeBasis), and never
   * go below retainedGoal; bytesPerMs is 0 when there is nothing to do.
   */
  private line = { heapGoal: 0, retainedGoal: 0, retainedBasis: 0, timeBasis: 0, bytesPerMs: 0 };
  private releasedTotal = 0;
  private readonly now: () => number;
  private readonly maxStepMs: number;
  private readonly minSleepMs: number;
  private readonly idleMs: number;
  /** Back-off while behind the line with nothing left to release. */
  private retryMs: number;
  private timer: NodeJS.Timeout | undefined;
  private active = false;
  private failure: unknown;
  private finished: Promise<void> = Promise.resolve();
  private settle: { resolve(): void; reject(err: unknown): void } | undefined;

  constructor(heap: MHeap, opts: ScavengerOptions) {
    this.heap = heap;
    this.now = opts.now ?? (() => performance.now());
    this.maxStepMs = checkNonNegative('maxStepMs', opts.maxStepMs ?? 1);
    this.minSleepMs = checkNonNegative('minSleepMs', opts.minSleepMs ?? 1);
    this.idleMs = checkNonNegative('idleMs', opts.idleMs ?? 100);
    this.retryMs = this.minSleepMs;
    this.pace(opts.heapGoal);
  }

  get running(): boolean {
    return this.active;
  }

  get heapGoal(): number {
    return this.line.heapGoal;
  }

  /** What retained is driven to: 1.1 × heapGoal, rounded up to the OS page. */
  get retainedGoal(): number {
    return this.line.retainedGoal;
  }

  /** The line's slope; 0 when parked. */
  get bytesPerMs(): number {
    return this.line.bytesPerMs;
  }

  /** Bytes released since construction. */
  get released(): number {
    return this.releasedTotal;
  }

  /**
   * Set the goal and draw a new line from (now, retained) down to it. Work is split into whole free
   * huge pages (as many as the work and freeHugePages allow) and OS pages, each priced at 1 ms.
   */
  pace(heapGoal = this.line.heapGoal): void {
    checkNonNegative('heapGoal', heapGoal);
    const { physPageSize, physHugePageSize: h } = this.heap;
    const retainedGoal = Math.ceil((heapGoal * (100 + retainExtraPercent)) / 100 / physPageSize) * physPageSize;
    const retained = this.heap.retained;
    if (retained <= retainedGoal) {
      this.line = { heapGoal, retainedGoal, retainedBasis: retained, timeBasis: this.now(), bytesPerMs: 0 };
      return;
    }
    const totalWork = retained - retainedGoal;
    const hugeWork = h === 0 ? 0 : Math.min(this.heap.freeHugePages, Math.floor(totalWork / h)) * h;
    const hugeTime = h === 0 ? 0 : (hugeWork / h) * scavengePagePeriodMs;
    const regularTime = Math.ceil((totalWork - hugeWork) / physPageSize) * scavengePagePeriodMs;
    const bytesPerMs = totalWork / (hugeTime + regularTime);
    this.line = { heapGoal, retainedGoal, retainedBasis: retained, timeBasis: this.now(), bytesPerMs };
  }

  /**
   * One wake-up: if retained is above the line, scavenge down to it, in chunks, for at most
   * maxStepMs; then say when the line will next be crossed. A parked scavenger re-paces on waking
   * (the runtime re-paced after each GC; this heap has no GC).
   */
  step(): ScavengeStep {
    if (this.heap.closed) return { released: 0, sleepMs: this.idleMs, parked: true };
    if (this.bytesPerMs === 0 || this.heap.retained <= this.retainedGoal) {
      this.pace();
      if (this.bytesPerMs === 0) return { released: 0, sleepMs: this.idleMs, parked: true };
    }
    const start = this.now();
    const retained = this.heap.retained;
    const { retainedGoal, retainedBasis, timeBasis, bytesPerMs } = this.line;
    const want = Math.max(retainedGoal, retainedBasis - bytesPerMs * (start - timeBasis));
    const chunk = Math.max(this.heap.physHugePageSize, this.heap.pageSize);
    let released = 0;
    while (released < retained - want) {
      const n = this.heap.scavenge(Math.min(chunk, retained - want - released));
      if (n === 0) break;
      released += n;
      if (this.now() - start >= this.maxStepMs) break;
    }
    this.releasedTotal += released;

    const behind = retained - released - want;
    if (behind <= 0) {
      this.retryMs = this.minSleepMs;
      // At or below the line: nothing to do until the line comes down to retained.
      return { released, sleepMs: Math.max(this.minSleepMs, -behind / bytesPerMs), parked: false };
    }
    if (released > 0) {
      this.retryMs = this.minSleepMs;
      return { released, sleepMs: this.minSleepMs, parked: false };
    }
    // Behind the line but nothing free to release: back off exponentially, up to idleMs.
    const sleepMs = this.retryMs;
    this.retryMs = Math.min(this.retryMs * 2, this.idleMs);
    return { released, sleepMs, parked: false };
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
    this.schedule(0);
    return this;
  }

  /** Stop and clear the timer; resolves once stopped. */
  stop(): Promise<void> {
    if (this.active) this.finish();
    return this.finished;
  }

  private schedule(ms: number): void {
    this.timer = setTimeout(() => this.tick(), ms);
    this.timer.unref();
  }

  private tick(): void {
    this.timer = undefined;
    if (this.heap.closed) return this.finish();
    let next: ScavengeStep;
    try {
      next = this.step();
    } catch (err) {
      return this.finish(err);
    }
    this.schedule(next.sleepMs);
  }

  private finish(err?: unknown): void {
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
}

/** Pace a scavenger for heap and start it on its timer. */
export function startScavenger(heap: MHeap, opts: ScavengerOptions): BackgroundScavenger {
  return new BackgroundScavenger(heap, opts).start();
}
