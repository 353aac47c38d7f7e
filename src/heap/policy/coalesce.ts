/**
 * `coalesce`: the seed — Go commit 31c4e09 ("runtime: use sysHugePage on coalesce",
 * `runtime/mheap.go` `coalesce`, Go 1.13) as refined by its follow-up: when a merge creates a
 * free, unscavenged span holding more whole huge pages than its parts did between them,
 * `sysHugePage` (MADV_HUGEPAGE) the whole merged span, undoing `sysUnused`'s NOHUGEPAGE marks
 * so that `unscavHugePages` counts only pages the kernel may back. Simplified: nothing; this is
 * the runtime's code path, called before the merge so that a failing madvise changes nothing.
 */
import { wholeHugePages } from '../span';
import type { HeapPolicy, PolicyHeap } from './types';

export function coalescePolicy(): HeapPolicy {
  let heap: PolicyHeap;
  return {
    name: 'coalesce',
    release: 'free',
    nohugepageEdges: true,
    attach(h) {
      heap = h;
    },
    merging(base, end, hpParts) {
      if (wholeHugePages(base, end, heap.physHugePageSize) > hpParts) heap.sysHugePage(base, end - base);
    },
  };
}
