/**
 * The runtime's heap accounting, shared by both heaps (MHeap, the 2019 span heap; PageHeap, the
 * Go 1.14-style page heap): mheap_'s memstats, the scavenger's retained goal and
 * scavengeIfNeededLocked. Invariant: heapSys = heapInuse + heapFree + heapReleased; the heap that
 * extends this class is the only writer of its memstats and checks the sum in its invariants.
 */
import { guardReceivers, numberArg } from '../native/args';

export abstract class HeapAccounts {
  protected readonly memstats = { heapSys: 0, heapInuse: 0, heapFree: 0, heapReleased: 0 };

  /**
   * The runtime's mheap_.scavengeRetainedGoal: what gcPaceScavenger last set (1.1 × next_gc).
   * Infinity until something paces the heap (a GcModel or a BackgroundScavenger): a bare heap
   * never scavenges on its own.
   */
  get scavengeRetainedGoal(): number {
    return this.#goal;
  }
  set scavengeRetainedGoal(goal: number) {
    this.#goal = numberArg(goal, 'scavengeRetainedGoal', 0);
  }
  #goal = Infinity;

  /** Bytes released by scavengeIfNeeded so far (the synchronous scavenger's share). */
  get releasedOnAlloc(): number {
    return this.#releasedOnAlloc;
  }
  #releasedOnAlloc = 0;

  get heapSys(): number {
    return this.memstats.heapSys;
  }

  get heapInuse(): number {
    return this.memstats.heapInuse;
  }

  /** Free and not scavenged: resident, or as good as (MADV_FREE'd memory counts as released). */
  get heapFree(): number {
    return this.memstats.heapFree;
  }

  /** Free and scavenged: given back to the OS. */
  get heapReleased(): number {
    return this.memstats.heapReleased;
  }

  /** The runtime's estimate of the heap's RSS. */
  get retained(): number {
    return this.memstats.heapSys - this.memstats.heapReleased;
  }

  /** Release about nbytes of free memory to the OS; the bytes released. */
  abstract scavenge(nbytes: number): number;

  /**
   * mheap.go scavengeIfNeededLocked (go1.13), verbatim: if heapRetained() + size is over the
   * goal, scavenge min(size, the overage). (retained already includes the pages just
   * allocated, so they count twice, as in the runtime.) Returns the bytes released.
   */
  scavengeIfNeeded(size: number): number {
    numberArg(size, 'size', 0, Number.MAX_SAFE_INTEGER);
    const r = this.memstats.heapSys - this.memstats.heapReleased;
    if (r + size <= this.#goal) return 0;
    const released = this.scavenge(Math.min(size, r + size - this.#goal));
    this.#releasedOnAlloc += released;
    return released;
  }

  static {
    guardReceivers(this, (o) => #goal in o);
  }
}
