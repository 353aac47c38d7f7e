/** The policies, by name. */
import type { HeapPolicy, PolicyName } from './types';
import { POLICY_NAMES } from './types';
import { nonePolicy } from './none';
import { coalescePolicy } from './coalesce';
import { densityPolicy } from './density';
import { fillerPolicy } from './filler';
import { hpaPolicy } from './hpa';

export { POLICY_NAMES };
export type { HeapPolicy, PolicyHeap, PolicyName } from './types';

export function makePolicy(name: PolicyName): HeapPolicy {
  switch (name) {
    case 'none':
      return nonePolicy();
    case 'coalesce':
      return coalescePolicy();
    case 'density':
      return densityPolicy();
    case 'filler':
      return fillerPolicy();
    case 'hpa':
      return hpaPolicy();
  }
}

export function isPolicyName(x: unknown): x is PolicyName {
  return typeof x === 'string' && (POLICY_NAMES as readonly string[]).includes(x);
}

/** The release advice of the allocator policy `name` models (see HeapPolicy.release). */
export function defaultRelease(name: PolicyName): 'free' | 'dontneed' {
  return makePolicy(name).release;
}
