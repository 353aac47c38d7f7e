/**
 * The memory primitives the runtime's OS layer is built from: reserve, commit, madvise, unmap.
 * Invariant: every address handed out lies in memory the implementation itself reserved, and
 * every call is refused (throws, changes nothing) for a range it did not hand out.
 * Two implementations: LinuxMemory (real mmap/madvise through the addon) and FakeMemory
 * (bookkeeping only: no memory is touched, the kernel's hg/nh flags are modelled).
 */

import type { Advice } from '../native/advice';

export type { Advice } from '../native/advice';
export { ADVICE } from '../native/advice';

export interface Memory {
  /** The OS page (4 KiB on x86-64). */
  readonly physPageSize: number;
  /** hpage_pmd_size in bytes; 0 when the host has no transparent huge pages. */
  readonly physHugePageSize: number;
  /** Reserve n bytes of address space without access, aligned to `align` (a power of two). */
  reserve(n: number, align: number): number;
  /** Make [v, v+n) of a reservation readable and writable (not yet resident). */
  commit(v: number, n: number): void;
  /** madvise(v, n, advice) on memory this implementation reserved. */
  madvise(v: number, n: number, advice: Advice): void;
  /** Give back a whole reservation (v must be one `reserve` returned). */
  unmap(v: number): void;
}
