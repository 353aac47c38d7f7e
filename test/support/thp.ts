/**
 * Skipping honestly, in one place: a test that depends on the host runs only where the host
 * allows it; where it cannot, it is registered as skipped with the reason in its name, and the
 * reason is printed once. `itUnless` takes any reason; itThp/itExact/itScan are the THP ones.
 */
import { hugePagesAvailable } from '../../src/native/host';
import { pagemapScanSupported } from '../../src/native/coverage';

const avail = hugePagesAvailable();
const scan = pagemapScanSupported();
const told = new Set<string>();

export const thpReason: string | undefined = avail.ok ? undefined : avail.reason;
/** Why itScan tests skip on a kernel without PAGEMAP_SCAN (Linux < 6.7). */
export const SCAN_REASON = 'the kernel has no PAGEMAP_SCAN (Linux < 6.7): no per-page truth to assert on';
const scanReason: string | undefined = scan ? undefined : SCAN_REASON;
/** Why itExact tests skip here (no huge pages, or no PAGEMAP_SCAN), or undefined. */
export const exactReason: string | undefined = thpReason ?? scanReason;

/** `it` unless `reason` says what the host lacks: then skipped, the reason in its name and printed. */
export function itUnless(reason: string | undefined, name: string, fn: () => unknown, timeout?: number): void {
  if (reason === undefined) {
    it(name, fn as jest.ProvidesCallback, timeout);
    return;
  }
  if (!told.has(reason)) {
    process.stderr.write(`hugespan: skipping: ${reason}\n`);
    told.add(reason);
  }
  const skip = it.skip;
  skip(`${name} [skipped: ${reason}]`, () => undefined);
}

/** `it` for tests that need real huge pages. */
export function itThp(name: string, fn: () => unknown, timeout?: number): void {
  itUnless(thpReason, name, fn, timeout);
}

/** `it` for tests that need real huge pages and the kernel's exact per-page answer. */
export function itExact(name: string, fn: () => unknown, timeout?: number): void {
  itUnless(exactReason, name, fn, timeout);
}

/** `it` for tests that need the kernel's exact per-page answer, huge pages or not. */
export function itScan(name: string, fn: () => unknown, timeout?: number): void {
  itUnless(scanReason, name, fn, timeout);
}

export const MiB = 1 << 20;
