/**
 * Who owns a process's anonymous memory, and the fix that works for that owner.
 * Invariant: one entry point for the rest of hugespan: a live pid goes through ownerSnapshot
 * (the only reads) and attributeOwners (pure), so recorded snapshots test the same code.
 */
import { ownerSnapshot } from './snapshot';
import { intArg } from '../../native/args';
import { attributeOwners, OwnerMap } from './detect';

export { OWNERS, attributeOwners, ownerAt, detectRuntimes } from './detect';
export type { Owner, Attribution, OwnerMap, Runtime } from './detect';
export { ownerSnapshot, parseMaps } from './snapshot';
export type { OwnerSnapshot } from './snapshot';
export { FIXES, fixesFor, fixEnv, versionAtLeast } from './fixes';
export type { Fix, OwnerFix } from './fixes';

/** The owners of `pid`'s anonymous memory now; undefined when its maps cannot be read. */
export function ownersOf(pid: number): OwnerMap | undefined {
  intArg(pid, 'pid', 1, 2 ** 31 - 1);
  try {
    return attributeOwners(ownerSnapshot(pid));
  } catch {
    return undefined;
  }
}
