/**
 * Typed access to /proc/<pid>/smaps and smaps_rollup, parsed in C++.
 * Invariant: every numeric field is in bytes (the kernel's kB × 1024) except counts such as
 * protectionKey; fields the kernel adds later are kept under their camelCase names.
 */
import { binding, RawVma } from './binding';

export type Pid = number | 'self';

export interface Vma extends RawVma {
  size: number;
  rss: number;
  pss: number;
  anonymous: number;
  anonHugePages: number;
  swap: number;
}

/** Every VMA of a process. Throws ENOENT (gone), EACCES (not ours to read) like fs does. */
export function readSmaps(pid: Pid = 'self'): Vma[] {
  return binding.smaps(pid, false) as Vma[];
}

/** The process's totals in one record (path '[rollup]'), far cheaper than readSmaps. */
export function readSmapsRollup(pid: Pid = 'self'): Vma {
  const [rollup] = binding.smaps(pid, true) as Vma[];
  if (!rollup) throw Object.assign(new Error(`smaps_rollup of ${pid} is empty (a kernel thread has no memory map)`), { code: 'ERR_HUGESPAN_NO_MM' });
  return rollup;
}

export function parseSmaps(text: string | Uint8Array): Vma[] {
  return binding.parseSmaps(text) as Vma[];
}

/** The VMA holding `address`, or undefined. */
export function vmaAt(vmas: readonly Vma[], address: number): Vma | undefined {
  let lo = 0;
  let hi = vmas.length - 1;
  while (lo <= hi) {
    const mid = (lo + hi) >> 1;
    const v = vmas[mid];
    if (address < v.start) hi = mid - 1;
    else if (address >= v.end) lo = mid + 1;
    else return v;
  }
  return undefined;
}

/** The VMAs overlapping [start, end), in address order. */
export function vmasIn(vmas: readonly Vma[], start: number, end: number): Vma[] {
  return vmas.filter((v) => v.start < end && v.end > start);
}
