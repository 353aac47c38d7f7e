/**
 * Skipping honestly: a THP test runs only where this process can get huge pages; where it
 * cannot, it is registered as skipped with the reason in its name, and the reason is printed.
 */
import { hugePagesAvailable } from '../../src/native/host';

const avail = hugePagesAvailable();
let told = false;

export const thpReason: string | undefined = avail.ok ? undefined : avail.reason;

/** `it` for tests that need real huge pages. */
export function itThp(name: string, fn: () => unknown, timeout?: number): void {
  if (avail.ok) {
    it(name, fn as jest.ProvidesCallback, timeout);
    return;
  }
  if (!told) {
    process.stderr.write(`hugespan: skipping THP tests: ${avail.reason}\n`);
    told = true;
  }
  const skip = it.skip;
  skip(`${name} [skipped: ${avail.reason}]`, () => undefined);
}

export const MiB = 1 << 20;
