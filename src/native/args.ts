/**
 * Argument checks at the TypeScript boundary, worded like Node's own: the one checker every public
 * entry point uses. Invariant: each check returns a valid value or throws a TypeError/RangeError
 * carrying a `code` before anything else happens; describing a bad value never throws (a Symbol
 * prints, it does not coerce); an options object is read once, here, so no getter of the caller's
 * runs later, mid-call; a method called on a receiver its class did not make is refused before
 * its body runs.
 */

export type ArgCode = 'ERR_INVALID_ARG_TYPE' | 'ERR_INVALID_ARG_VALUE' | 'ERR_OUT_OF_RANGE' | 'ERR_INVALID_THIS';

export function argError(Class: typeof TypeError | typeof RangeError, code: ArgCode, message: string): Error & { code: ArgCode } {
  return Object.assign(new Class(message), { code });
}

/** "Received null", "Received type symbol (Symbol(x))", as Node words it. */
export function received(value: unknown): string {
  if (value === null) return 'Received null';
  if (value === undefined) return 'Received undefined';
  if (typeof value === 'function') return `Received function ${safeName(value)}`;
  if (typeof value === 'object') return `Received ${Array.isArray(value) ? 'an array' : 'an instance of ' + constructorName(value)}`;
  let shown = typeof value === 'symbol' ? value.toString() : typeof value === 'bigint' ? `${value}n` : JSON.stringify(value) ?? String(value);
  if (shown.length > 28) shown = `${shown.slice(0, 25)}...`;
  return `Received type ${typeof value} (${shown})`;
}

// A Proxy or a getter may throw on any read: describing a value must not.
function constructorName(value: object): string {
  try {
    const name = (value as { constructor?: { name?: unknown } }).constructor?.name;
    return typeof name === 'string' && name ? name : 'Object';
  } catch {
    return 'Object';
  }
}

function safeName(fn: Function): string {
  try {
    return typeof fn.name === 'string' && fn.name ? fn.name : '<anonymous>';
  } catch {
    return '<anonymous>';
  }
}

/** An integer Number from 0 to 2^53 - 1. */
export function uintArg(value: unknown, name: string): number {
  if (typeof value !== 'number') throw argError(TypeError, 'ERR_INVALID_ARG_TYPE', `The "${name}" argument must be of type number. ${received(value)}`);
  if (!Number.isSafeInteger(value) || value < 0) {
    throw argError(RangeError, 'ERR_INVALID_ARG_VALUE', `The "${name}" argument must be an integer from 0 to 2^53 - 1. Received ${value}`);
  }
  return value;
}

/** An integer Number in [min, max]: ERR_OUT_OF_RANGE outside it, as Node's validateInteger. */
export function intArg(value: unknown, name: string, min = 0, max = Number.MAX_SAFE_INTEGER): number {
  if (typeof value !== 'number') throw argError(TypeError, 'ERR_INVALID_ARG_TYPE', `The "${name}" argument must be of type number. ${received(value)}`);
  if (!Number.isInteger(value) || value < min || value > max) {
    throw argError(RangeError, 'ERR_OUT_OF_RANGE', `The value of "${name}" is out of range. It must be an integer >= ${min} && <= ${max}. Received ${value}`);
  }
  return value;
}

/** A Number in [min, max] (not NaN); Infinity only where max is. */
export function numberArg(value: unknown, name: string, min = -Infinity, max = Infinity): number {
  if (typeof value !== 'number') throw argError(TypeError, 'ERR_INVALID_ARG_TYPE', `The "${name}" argument must be of type number. ${received(value)}`);
  if (!(value >= min && value <= max)) {
    throw argError(RangeError, 'ERR_OUT_OF_RANGE', `The value of "${name}" is out of range. It must be >= ${min} && <= ${max}. Received ${value}`);
  }
  return value;
}

export function boolArg(value: unknown, name: string): boolean {
  if (typeof value !== 'boolean') throw argError(TypeError, 'ERR_INVALID_ARG_TYPE', `The "${name}" argument must be of type boolean. ${received(value)}`);
  return value;
}

export function stringArg(value: unknown, name: string): string {
  if (typeof value !== 'string') throw argError(TypeError, 'ERR_INVALID_ARG_TYPE', `The "${name}" argument must be of type string. ${received(value)}`);
  return value;
}

/** One of `allowed` (strings compared with ===, so nothing is coerced). */
export function oneOfArg<T>(value: unknown, name: string, allowed: readonly T[]): T {
  if (!allowed.includes(value as T)) {
    const Class = typeof value === typeof allowed[0] ? RangeError : TypeError;
    throw argError(Class, Class === RangeError ? 'ERR_INVALID_ARG_VALUE' : 'ERR_INVALID_ARG_TYPE',
      `The "${name}" argument must be one of ${allowed.map((a) => JSON.stringify(a)).join(', ')}. ${received(value)}`);
  }
  return value as T;
}

export function functionArg(value: unknown, name: string): Function {
  if (typeof value !== 'function') throw argError(TypeError, 'ERR_INVALID_ARG_TYPE', `The "${name}" argument must be of type function. ${received(value)}`);
  return value;
}

/** An object (not null, not an array) whose fields the caller will read through objectField. */
export function objectArg(value: unknown, name: string): object {
  if (value === null || typeof value !== 'object' || Array.isArray(value)) {
    throw argError(TypeError, 'ERR_INVALID_ARG_TYPE', `The "${name}" argument must be of type object. ${received(value)}`);
  }
  return value;
}

/** obj[key], with a throwing getter or Proxy trap refused with a code rather than passed on. */
export function objectField(obj: object, key: string, name: string): unknown {
  try {
    return (obj as Record<string, unknown>)[key];
  } catch (cause) {
    throw Object.assign(argError(TypeError, 'ERR_INVALID_ARG_VALUE', `The "${name}.${key}" property could not be read`), { cause });
  }
}

/** arr.length, with a Proxy's throwing trap refused with a code. */
export function lengthOf(arr: readonly unknown[], name: string): number {
  const n = objectField(arr, 'length', name);
  return typeof n === 'number' && Number.isSafeInteger(n) && n >= 0 ? n : 0;
}

/** arr[i], with a throwing getter or Proxy trap refused with a code. */
export function elementAt(arr: readonly unknown[], i: number, name: string): unknown {
  try {
    return arr[i];
  } catch (cause) {
    throw Object.assign(argError(TypeError, 'ERR_INVALID_ARG_VALUE', `The "${name}[${i}]" element could not be read`), { cause });
  }
}

/** An array, copied element by element (each read once, here): later steps read the copy, never the caller's array. */
export function arrayArg(value: unknown, name: string, max = 2 ** 24): unknown[] {
  if (!Array.isArray(value)) throw argError(TypeError, 'ERR_INVALID_ARG_TYPE', `The "${name}" argument must be an array. ${received(value)}`);
  const n = lengthOf(value, name);
  if (n > max) throw argError(RangeError, 'ERR_OUT_OF_RANGE', `The "${name}" argument may hold at most ${max} elements. Received ${n}`);
  const copy = new Array<unknown>(n);
  for (let i = 0; i < n; i++) copy[i] = elementAt(value, i, name);
  return copy;
}

/**
 * A plain options object, or undefined for "all defaults", copied: each of `keys` is read once,
 * here (a getter runs now or never), into a fresh object the caller validates field by field.
 */
export function optionsArg<T extends object>(value: unknown, name = 'options', keys?: readonly (keyof T & string)[]): Partial<T> {
  if (value === undefined) return {};
  objectArg(value, name);
  if (!keys) return value as Partial<T>;
  const copy: Record<string, unknown> = {};
  for (const k of keys) copy[k] = objectField(value as object, k, name);
  return copy as Partial<T>;
}

/** `value` if it is undefined (absent), else check(value): for optional option fields. */
export function optional<T>(value: unknown, check: (v: unknown, name: string) => T, name: string): T | undefined {
  return value === undefined ? undefined : check(value, name);
}

/** The TypeError a method throws for a receiver its class did not construct (Node's ERR_INVALID_THIS). */
export function thisError(className: string, self: unknown): Error & { code: ArgCode } {
  return argError(TypeError, 'ERR_INVALID_THIS', `Value of "this" must be of type ${className}. ${received(self)}`);
}

/**
 * Make every method and accessor of Class.prototype (its own, not inherited ones) refuse a
 * receiver `brand` does not recognise — `{}`, `Object.create(Class.prototype)`, a primitive, the
 * prototype itself — with ERR_INVALID_THIS before its body runs. `brand` is the class's own
 * private-field test (`(o) => #field in o`), so only objects its constructor made pass. Static
 * methods take no receiver and are left alone. `inline` names hot methods that make the same
 * check in their own first line (`if (!Class.is(this)) throw thisError(…)`), without the wrapper's
 * extra call; the public-entry table holds them to it like the rest.
 */
export function guardReceivers(Class: { name: string; prototype: object }, brand: (o: object) => boolean, inline: readonly string[] = []): void {
  const proto = Class.prototype;
  const name = Class.name;
  const is = (o: unknown): boolean => (typeof o === 'object' && o !== null) || typeof o === 'function' ? brand(o as object) : false;
  for (const key of Reflect.ownKeys(proto)) {
    if (key === 'constructor' || inline.includes(key as string)) continue;
    const d = Object.getOwnPropertyDescriptor(proto, key)!;
    if (typeof d.value === 'function') {
      const fn = d.value as (...args: unknown[]) => unknown;
      d.value = rename(function (this: unknown, ...args: unknown[]) {
        if (!is(this)) throw thisError(name, this);
        return fn.apply(this, args);
      }, fn);
    } else {
      const { get, set } = d;
      if (get) d.get = rename(function (this: unknown) {
        if (!is(this)) throw thisError(name, this);
        return get.call(this);
      }, get);
      if (set) d.set = rename(function (this: unknown, v: unknown) {
        if (!is(this)) throw thisError(name, this);
        set.call(this, v);
      }, set);
    }
    Object.defineProperty(proto, key, d);
  }
}

function rename<F extends Function>(wrapper: F, original: Function): F {
  Object.defineProperty(wrapper, 'name', { value: original.name });
  Object.defineProperty(wrapper, 'length', { value: original.length });
  return wrapper;
}
