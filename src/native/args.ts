/**
 * Argument checks at the TypeScript boundary, worded like Node's own. Invariant: each check
 * returns a valid value or throws a TypeError/RangeError carrying a `code` before anything
 * else happens; describing a bad value never throws (a Symbol prints, it does not coerce).
 */

export type ArgCode = 'ERR_INVALID_ARG_TYPE' | 'ERR_INVALID_ARG_VALUE' | 'ERR_OUT_OF_RANGE';

export function argError(Class: typeof TypeError | typeof RangeError, code: ArgCode, message: string): Error & { code: ArgCode } {
  return Object.assign(new Class(message), { code });
}

/** "Received null", "Received type symbol (Symbol(x))", as Node words it. */
export function received(value: unknown): string {
  if (value === null) return 'Received null';
  if (value === undefined) return 'Received undefined';
  if (typeof value === 'function') return `Received function ${value.name || '<anonymous>'}`;
  if (typeof value === 'object') return `Received ${Array.isArray(value) ? 'an array' : 'an instance of ' + (value.constructor?.name ?? 'Object')}`;
  let shown = typeof value === 'symbol' ? value.toString() : typeof value === 'bigint' ? `${value}n` : JSON.stringify(value) ?? String(value);
  if (shown.length > 28) shown = `${shown.slice(0, 25)}...`;
  return `Received type ${typeof value} (${shown})`;
}

/** An integer Number from 0 to 2^53 - 1. */
export function uintArg(value: unknown, name: string): number {
  if (typeof value !== 'number') throw argError(TypeError, 'ERR_INVALID_ARG_TYPE', `The "${name}" argument must be of type number. ${received(value)}`);
  if (!Number.isSafeInteger(value) || value < 0) {
    throw argError(RangeError, 'ERR_INVALID_ARG_VALUE', `The "${name}" argument must be an integer from 0 to 2^53 - 1. Received ${value}`);
  }
  return value;
}

/** A plain options object, or undefined for "all defaults". */
export function optionsArg<T extends object>(value: unknown, name = 'options'): Partial<T> {
  if (value === undefined) return {};
  if (value === null || typeof value !== 'object' || Array.isArray(value)) {
    throw argError(TypeError, 'ERR_INVALID_ARG_TYPE', `The "${name}" argument must be of type object. ${received(value)}`);
  }
  return value as Partial<T>;
}
