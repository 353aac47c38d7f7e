/** Shared set-up for the bookkeeping tests: a heap over FakeMemory, and error capture. */
import { FakeMemory } from '../../src/sys/fake';
import type { FakeMemoryOptions } from '../../src/sys/fake';
import { Sys } from '../../src/sys/sys';
import type { SysOptions } from '../../src/sys/sys';
import { MHeap } from '../../src/heap/mheap';
import type { MHeapOptions } from '../../src/heap/mheap';

export const KiB = 1024;
export const MiB = 1024 * KiB;

export interface Rig {
  mem: FakeMemory;
  sys: Sys;
  heap: MHeap;
}

export function rig(heapOpts: MHeapOptions = {}, memOpts: FakeMemoryOptions = {}, sysOpts: SysOptions = {}): Rig {
  const mem = new FakeMemory(memOpts);
  const sys = new Sys(mem, sysOpts);
  const heap = new MHeap(sys, { arenaBytes: 64 * MiB, growBytes: 16 * MiB, ...heapOpts });
  return { mem, sys, heap };
}

/** What fn throws (it must throw). */
export function thrown(fn: () => unknown): Error & { code?: string } {
  try {
    fn();
  } catch (e) {
    return e as Error & { code?: string };
  }
  throw new Error('expected the call to throw, and it returned');
}
