/**
 * The heap's refusals. Every refusal is thrown before anything is mutated, so a caller that catches
 * one holds a heap exactly as it was; `code` says which rule was broken.
 */

export type HeapErrorCode =
  | 'ERR_INVALID_ARG_TYPE'
  | 'ERR_INVALID_ARG_VALUE'
  | 'ERR_OUT_OF_RANGE'
  | 'ERR_HUGESPAN_ARENA_EXHAUSTED'
  | 'ERR_HUGESPAN_DOUBLE_FREE'
  | 'ERR_HUGESPAN_FOREIGN_SPAN'
  | 'ERR_HUGESPAN_STALE_SPAN'
  | 'ERR_HUGESPAN_HEAP_CLOSED'
  | 'ERR_HUGESPAN_INVARIANT';

export type HeapError = Error & { code: HeapErrorCode };

type ErrorClass = typeof Error | typeof TypeError | typeof RangeError;

export function heapError(Class: ErrorClass, code: HeapErrorCode, message: string): HeapError {
  return Object.assign(new Class(message), { code });
}

/** `n` as a hex address, the way /proc and the runtime print them. */
export function hex(n: number): string {
  return `0x${n.toString(16)}`;
}
