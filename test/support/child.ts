/** Run a snippet of JS in a fresh node process with the addon loaded as `binding`. */
import { spawnSync, SpawnSyncOptions } from 'node:child_process';
import * as path from 'node:path';

export const ROOT = path.join(__dirname, '..', '..');
export const ADDON = path.join(ROOT, 'build', 'Release', 'hugespan.node');

const SMAPS = path.join(ROOT, 'dist', 'native', 'smaps.js');

/**
 * Runs `code` with `binding` bound to the addon and `readSmaps`/`readSmapsRollup` to the built
 * readers (npm test builds dist first); returns its parsed JSON stdout.
 */
export function runChild(code: string, options: SpawnSyncOptions & { nodeArgs?: string[] } = {}): { status: number | null; stdout: string; stderr: string; json?: any } {
  const script = `const binding = require(${JSON.stringify(ADDON)});\nconst { readSmaps, readSmapsRollup } = require(${JSON.stringify(SMAPS)});\n${code}`;
  const r = spawnSync(process.execPath, [...(options.nodeArgs ?? []), '-e', script], { encoding: 'utf8', timeout: 60000, ...options });
  const stdout = String(r.stdout ?? '');
  let json: any;
  try {
    json = JSON.parse(stdout.trim().split('\n').pop() ?? '');
  } catch {
    json = undefined;
  }
  return { status: r.status, stdout, stderr: String(r.stderr ?? ''), json };
}

/**
 * Under AddressSanitizer (npm run test:asan) the sanitizer's allocator keeps freed memory in
 * quarantine and maps its own memory where ours was: RSS and "no VMA at our old address"
 * mean nothing there. Those checks skip with this reason; the exact unmap counters still hold.
 */
export const ASAN_REASON = process.env.HUGESPAN_ASAN
  ? "under AddressSanitizer, whose quarantine and allocator reuse our freed address ranges and hold RSS"
  : undefined;
