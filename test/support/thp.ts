/**
 * Skipping honestly: a THP test runs only where this process can get huge pages (and, for
 * `itExact`, where the kernel answers PAGEMAP_SCAN); where it cannot, it is registered as
 * skipped with the reason in its name, and the reason is printed once.
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
const exactReason: string | undefined = thpReason ?? scanReason;

function gated(reason: string | undefined, name: string, fn: () => unknown, timeout?: number): void {
  if (reason === undefined) {
    it(name, fn as jest.ProvidesCallback, timeout);
    return;
  }
  if (!told.has(reason)) {
    process.stderr.write(`hugespan: skipping THP tests: ${reason}\n`);
    told.add(reason);
  }
  const skip = it.skip;
  skip(`${name} [skipped: ${reason}]`, () => undefined);
}

/** `it` for tests that need real huge pages. */
export function itThp(name: string, fn: () => unknown, timeout?: number): void {
  gated(thpReason, name, fn, timeout);
}

/** `it` for tests that need real huge pages and the kernel's exact per-page answer. */
export function itExact(name: string, fn: () => unknown, timeout?: number): void {
  gated(exactReason, name, fn, timeout);
}

/** `it` for tests that need the kernel's exact per-page answer, huge pages or not. */
export function itScan(name: string, fn: () => unknown, timeout?: number): void {
  gated(scanReason, name, fn, timeout);
}

export const MiB = 1 << 20;
