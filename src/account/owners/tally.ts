/**
 * A report's owners, VMA by VMA as the report streams: each VMA's owner, and per owner the
 * bytes, huge bytes and reasons its VMAs hold. Invariant: every VMA the report lists is counted
 * under exactly one owner, so the owners' anonymous bytes sum to the report's totals.
 */
import type { Vma } from '../../native/smaps';
import type { Reason } from '../reasons';
import type { OwnerJson, OwnersJson, OwnerTotalsJson, VmaJson } from '../schema';
import { ownersOf } from './index';
import { ownerAt, OwnerMap, Owner } from './detect';
import { fixesFor } from './fixes';

export interface OwnersTally {
  /** The owner of a VMA the report measured, counted. */
  add(v: Vma, j: VmaJson): OwnerJson;
  json(): OwnersJson;
}

/** Private file mappings hold anonymous bytes too: the pages the process wrote (COW copies). */
function fileCow(v: Vma): OwnerJson {
  return { owner: 'file-cow', evidence: [`a private mapping of ${v.path || `inode ${v.inode}`}: the pages the process wrote are anonymous copies`] };
}

/** undefined when the process's maps cannot be read (the report says nothing of owners then). */
export function ownersTally(pid: number): OwnersTally | undefined {
  const map: OwnerMap | undefined = ownersOf(pid);
  if (!map) return undefined;
  const by = new Map<Owner, OwnerTotalsJson>();
  return {
    add(v, j) {
      const o = v.inode !== 0 ? fileCow(v) : ownerAt(map, v.start, v.end);
      let t = by.get(o.owner);
      if (!t) by.set(o.owner, (t = { owner: o.owner, vmas: 0, anonymous: 0, anonHugePages: 0, coverage: 0, reasons: {} }));
      t.vmas++;
      t.anonymous += j.anonymous;
      t.anonHugePages += j.anonHugePages;
      for (const [r, n] of Object.entries(j.account.reasons) as [Reason, number][]) t.reasons[r] = (t.reasons[r] ?? 0) + n;
      return { owner: o.owner, evidence: o.evidence };
    },
    json() {
      const byOwner = [...by.values()].sort((a, b) => b.anonymous - a.anonymous || a.owner.localeCompare(b.owner));
      for (const t of byOwner) t.coverage = t.anonymous > 0 ? Math.min(1, t.anonHugePages / t.anonymous) : 0;
      const fixes = fixesFor(map, byOwner.map((t) => t.owner)).map(({ owners, fix, version }) => ({ owners, versions: fix.versions, version, action: fix.action, env: fix.env ?? null, cost: fix.cost, source: fix.source }));
      return { runtimes: map.runtimes, byOwner, fixes };
    },
  };
}
