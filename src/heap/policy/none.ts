/**
 * `none`: the Go runtime's page heap before the seed — Go 1.12/1.13 `runtime/mheap.go` and
 * `mem_linux.go` as they were before commit 31c4e09 ("runtime: use sysHugePage on coalesce").
 * Nothing beyond the heap's own mechanics: `sysUnused` marks edge huge pages `NOHUGEPAGE`,
 * `sysUsed` re-advises `HUGEPAGE` only on the whole huge pages it hands out, and a merge of free
 * spans re-advises nothing, so `NOHUGEPAGE` marks stay inside large free spans.
 */
import type { HeapPolicy } from './types';

export function nonePolicy(): HeapPolicy {
  return { name: 'none', release: 'free', nohugepageEdges: true, attach() {} };
}
