/**
 * Why a memory cgroup's anonymous total and the sum of its processes' figures differ: the
 * cgroup charges each page once, while each process's smaps counts every page it maps, so a
 * page shared by n of them (a forked child's copy-on-write pages) is in the sum n times. Pss
 * splits a shared page between its sharers, so the sum of Pss_Anon counts it once.
 * Invariant: both sums come from the same smaps_rollup read per process as the report's rows (so
 * processesAnonymous is the sum of the rows, exactly, and sharedExcess is never negative); the rest of the difference (memory charged that no readable process maps, or the
 * cgroup changing meanwhile) is difference - sharedExcess.
 */
import type { ProcessSummary } from './proc';

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

/** The sharing among the processes read (the report's rows), against the cgroup's `anonymous`. */
export function cgroupSharing(processes: readonly Pick<ProcessSummary, 'anonymous' | 'pssAnon'>[], anonymous: number): CgroupSharingJson {
  let all = 0;
  let once = 0;
  for (const p of processes) {
    all += p.anonymous;
    once += Math.min(p.anonymous, p.pssAnon);
  }
  return { processesAnonymous: all, processesAnonymousOnce: once, sharedExcess: all - once, difference: all - anonymous };
}
