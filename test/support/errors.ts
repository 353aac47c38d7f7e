/**
 * Catch what a call throws. Errors from the addon are created in Node's main realm, so jest's
 * `toBeInstanceOf(Error)` (sandbox realm) cannot see them; compare names and fields instead.
 */
export function thrown(fn: () => unknown): any {
  try {
    fn();
  } catch (e) {
    return e;
  }
  throw new Error('expected the call to throw, and it returned');
}

export function isErrorObject(e: unknown): boolean {
  return Object.prototype.toString.call(e) === '[object Error]';
}
