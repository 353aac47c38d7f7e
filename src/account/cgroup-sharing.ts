/**
 * Why a memory cgroup's anonymous total and the sum of its processes' figures differ: the
 * cgroup charges each page once, while each process's smaps counts every page it maps, so a
 * page shared by n of them (a forked child's copy-on-write pages) is in the sum n times. Pss
 * splits a shared page between its sharers, so the sum of Pss_Anon counts it once.
 * Invariant: both sums come from one smaps_rollup read per process, so sharedExcess is never
 * negative; the rest of the difference (memory charged that no readable process maps, or the
 * cgroup changing meanwhile) is difference - sharedExcess.
 */
import { readSmapsRollup } from '../native/smaps';

export interface CgroupSharingJson {
  /** Σ of the processes' smaps_rollup Anonymous: a page n of them map is in it n times. */
  processesAnonymous: number;
  /** Σ of their Pss_Anon: every page counted once, split between its sharers. */
  processesAnonymousOnce: number;
  /** processesAnonymous - processesAnonymousOnce: bytes counted more than once because shared. */
  sharedExcess: number;
  /** processesAnonymous - the cgroup's own anonymous figure (memory.stat). */
  difference: number;
}

/** The sharing among `pids` (those we may read; the rest are skipped), against the cgroup's `anonymous`. */
export function cgroupSharing(pids: readonly number[], anonymous: number): CgroupSharingJson {
  let all = 0;
  let once = 0;
  for (const pid of pids) {
    try {
      const r = readSmapsRollup(pid);
      all += r.anonymous;
      once += Math.min(r.anonymous, (r.pssAnon as number | undefined) ?? r.anonymous);
    } catch {
      // Gone, a kernel thread, or not ours to read: the process table counts those.
    }
  }
  return { processesAnonymous: all, processesAnonymousOnce: once, sharedExcess: all - once, difference: all - anonymous };
}
