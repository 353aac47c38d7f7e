/**
 * A GC cycle as the Go 1.13 runtime paces it, reduced to what the page heap sees: the live heap,
 * the next cycle's trigger and goal, the sweep that returns dead spans to the heap, and the
 * scavenger's re-pacing that every cycle ends with.
 *
 * Where each piece comes from (go1.13 tag):
 *
 * | here | runtime |
 * |---|---|
 * | `gogc` default 100 | `runtime/mgc.go` `readgogc` (`GOGC` unset → 100; `off` → −1) |
 * | `heapMinimum` = 4 MiB × GOGC/100 | `mgc.go` `defaultHeapMinimum`, `gcSetTriggerRatio`'s `minTrigger` |
 * | before the first cycle: marked = heapMinimum / (1 + 7/8), so the first trigger is heapMinimum | `mgc.go` `gcinit` |
 * | `nextGC` = marked × (1 + GOGC/100) | `mgc.go` `gcSetTriggerRatio`: `goal = heap_marked + heap_marked*gcpercent/100` |
 * | `trigger` = marked × (1 + triggerRatio), at least `heapMinimum` | `gcSetTriggerRatio` |
 * | `triggerRatio` 7/8, capped at 0.95 × GOGC/100 | `gcinit` (`memstats.triggerRatio = 7 / 8.0`), `gcSetTriggerRatio`'s `maxTriggerRatio` |
 * | a cycle starts when `heapLive` ≥ `trigger` | `mgc.go` `gcTrigger.test` (`gcTriggerHeap`: `heap_live >= gc_trigger`) |
 * | `heapLive` = marked at the cycle's end + span bytes allocated since | `mheap.go` `alloc_m` (`heap_live += npage<<_PageShift` for large spans; small spans are added whole on `mcache.refill`) |
 * | dead spans go back to the heap by the sweep | `mgcsweep.go` `mspan.sweep` → `mheap.freeSpan` |
 * | every cycle ends with `gcPaceScavenger` | `gcSetTriggerRatio` calls `gcPaceScavenger` (`mgcscavenge.go`) |
 *
 * What it simplifies, on purpose:
 * - No objects: a span is live or dead as a whole (the workload says when it dies); `heap_marked`
 *   is the bytes of spans live at the end of the cycle.
 * - The pacer's feedback loop (`gcControllerState.endCycle`) moves `triggerRatio` by mark work
 *   and CPU; there is no mark work here, so it stays at gcinit's 7/8.
 * - The sweep runs at once at mark termination, in address order (`mheap.reclaim` sweeps by page
 *   index; the background sweeper by its span list). The runtime sweeps lazily before the next
 *   cycle; the same spans are freed either way, and `heapRetained` does not change on a free, so
 *   the scavenger's goal and line are the same.
 */
import type { HeapSpan, RuntimeHeap } from './runtime-heap';
import { heapError } from './errors';
import { runtimeHeapArg, heapSpanArg } from './runtime-heap';
import { functionArg, guardReceivers, numberArg, optional, optionsArg } from '../native/args';

/** `defaultHeapMinimum` in mgc.go: 4 MiB at GOGC=100. */
export const DEFAULT_HEAP_MINIMUM = 4 << 20;
/** `gcinit`'s initial `memstats.triggerRatio`. */
export const INITIAL_TRIGGER_RATIO = 7 / 8;

export interface GcOptions {
  /** GOGC: 100 by default; -1 is `GOGC=off` (no cycle ever triggers by heap growth). */
  gogc?: number;
}

export interface GcCycle {
  /** Cycle number, from 1. */
  n: number;
  /** heap_marked: bytes of spans live at the end of the cycle. */
  marked: number;
  /** Spans the sweep returned to the heap. */
  swept: number;
  sweptBytes: number;
  nextGC: number;
  trigger: number;
}

/** Called with the new next_gc at the end of every cycle (and once at construction, as gcinit does). */
export type PaceHook = (nextGC: number) => void;

function gcOptions(value: unknown): GcOptions {
  const o = optionsArg<GcOptions>(value, 'opts', ['gogc']);
  return { gogc: optional(o.gogc, numberArg, 'opts.gogc') }; // its value is checked where it is used
}

export class GcModel<S extends HeapSpan = HeapSpan> {
  readonly heap: RuntimeHeap<S>;
  readonly gogc: number;
  readonly heapMinimum: number;
  readonly triggerRatio: number;
  /** heap_marked of the last cycle (0 before the first). Read-only to callers: the model's own state. */
  get marked(): number {
    return this.#marked;
  }
  #marked = 0;
  /** heap_live: marked + span bytes allocated since the last cycle. Read-only to callers: the model's own state. */
  get heapLive(): number {
    return this.#heapLive;
  }
  #heapLive = 0;
  /** next_gc: the heap goal. Read-only to callers: the model's own state. */
  get nextGC(): number {
    return this.#nextGC;
  }
  #nextGC = 0;
  /** gc_trigger. Read-only to callers: the model's own state. */
  get trigger(): number {
    return this.#trigger;
  }
  #trigger = 0;
  /** Cycles run so far. Read-only to callers: the model's own state. */
  get cycles(): number {
    return this.#cycles;
  }
  #cycles = 0;
  private readonly dead: S[] = [];
  private dying = new WeakSet<S>();
  private readonly hooks: PaceHook[] = [];

  constructor(heap: RuntimeHeap<S>, options?: GcOptions) {
    this.heap = runtimeHeapArg<S>(heap);
    const opts = gcOptions(options);
    this.gogc = opts.gogc ?? 100;
    if (!Number.isInteger(this.gogc) || this.gogc < -1) {
      throw heapError(RangeError, 'ERR_INVALID_ARG_VALUE', `gogc must be an integer ≥ 0, or -1 for off; got ${opts.gogc}`);
    }
    const pct = this.gogc < 0 ? 100 : this.gogc;
    this.heapMinimum = (DEFAULT_HEAP_MINIMUM * pct) / 100;
    this.triggerRatio = Math.min(INITIAL_TRIGGER_RATIO, (0.95 * pct) / 100);
    // gcinit fakes heap_marked = heapminimum / (1 + triggerRatio), so that the first trigger is
    // heapminimum, then calls gcSetTriggerRatio(7/8).
    this.#marked = Math.floor(this.heapMinimum / (1 + INITIAL_TRIGGER_RATIO));
    this.#nextGC = this.#goalOf(this.#marked);
    this.#trigger = this.#triggerOf(this.#marked);
    this.#marked = 0; // nothing is marked yet; heap_live starts at 0
  }

  /** Register a hook run at every pacing update (the runtime's gcPaceScavenger); runs it once now. */
  onPace(hook: PaceHook): void {
    functionArg(hook, 'hook');
    this.hooks.push(hook);
    hook(this.#nextGC);
  }

  /** A span was allocated: heap_live grows. Returns true when that crossed the trigger (a cycle is due). */
  allocated(s: HeapSpan): boolean {
    heapSpanArg(this.heap, s, 's');
    this.#heapLive += s.bytes;
    return this.#heapLive >= this.#trigger;
  }

  /** The program dropped its last reference to s: the next cycle's sweep frees it. */
  died(s: S): void {
    heapSpanArg(this.heap, s, 's');
    if (s.state !== 'inUse' || this.dying.has(s)) {
      throw heapError(Error, 'ERR_HUGESPAN_STALE_SPAN', 'only a live in-use span can die, once');
    }
    this.dying.add(s);
    this.dead.push(s);
  }

  /** Spans dead and not yet swept. */
  get garbage(): number {
    return this.dead.length;
  }

  /** Run one cycle: mark (what is not dead is live), set the next goal and trigger, pace the scavenger, sweep. */
  cycle(): GcCycle {
    let deadBytes = 0;
    for (const s of this.dead) deadBytes += s.bytes;
    this.#marked = this.heap.heapInuse - deadBytes;
    this.#heapLive = this.#marked;
    this.#nextGC = this.#goalOf(this.#marked);
    this.#trigger = this.#triggerOf(this.#marked);
    this.#cycles++;
    this.#repace();
    const dead = this.dead.splice(0).sort((a, b) => a.base - b.base);
    this.dying = new WeakSet();
    for (const s of dead) this.heap.free(s);
    this.heap.gcDone(); // policies that look at the heap as of the last GC (density)
    return { n: this.#cycles, marked: this.#marked, swept: dead.length, sweptBytes: deadBytes, nextGC: this.#nextGC, trigger: this.#trigger };
  }

  /** gcSetTriggerRatio's goal: heap_marked + heap_marked × GOGC/100 (not clamped to heapminimum). */
  #goalOf(marked: number): number {
    return this.gogc < 0 ? Infinity : marked + Math.floor((marked * this.gogc) / 100);
  }

  /** gcSetTriggerRatio's trigger: heap_marked × (1 + triggerRatio), at least heapminimum. */
  #triggerOf(marked: number): number {
    return this.gogc < 0 ? Infinity : Math.max(Math.floor(marked * (1 + this.triggerRatio)), this.heapMinimum);
  }

  #repace(): void {
    for (const hook of this.hooks) hook(this.#nextGC);
  }

  readonly #brand = true;

  static {
    guardReceivers(this, (o) => #brand in o);
  }
}
