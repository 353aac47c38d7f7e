/**
 * The one place that loads the compiled addon. Everything native goes through `binding`;
 * if the .node file cannot be loaded, the error says why and what to do next. Which file:
 * `addonFile()` (node-gyp-build: a local build first, then a fitting prebuild).
 */
import * as fs from 'node:fs';
import * as path from 'node:path';

/**
 * A mapping's capability: made by `map()`, type-tagged by this copy of the addon, wrapping its
 * own region. `address` and `length` are for display; every call takes the handle itself.
 */
export interface Handle {
  readonly address: number;
  readonly length: number;
}

/** An open pidfd (pidfdOpen), closed by pidfdClose or when collected. */
export type Pidfd = { readonly __pidfd: unique symbol };

/** The addon's raw exports. Addresses and lengths are Numbers (x86-64 user space < 2^47). */
export interface Binding {
  map(length: number, align?: number, commit?: boolean): Handle;
  unmap(handle: Handle): void;
  commit(handle: Handle, offset: number, length: number): void;
  decommit(handle: Handle, offset: number, length: number): void;
  madvise(handle: Handle, offset: number, length: number, advice: string): void;
  touch(handle: Handle, offset: number, length: number, byte?: number): void;
  readPages(handle: Handle, offset: number, length: number): number;
  randomReads(handles: Handle[], ranges: Float64Array, count: number, seed: number): { ns: number; reads: number; checksum: number };
  view(handle: Handle, offset: number, length: number): Uint8Array;
  committed(handle: Handle): [number, number][];
  live(handle: Handle): boolean;
  mappings(): { address: number; length: number; committed: [number, number][]; views: number }[];
  /**
   * Regions this process ever mapped and unmapped (every thread): equal once all are gone;
   * `keeping`: unmapped regions whose pages a transferred view still holds mapped;
   * `orphaned`: bytes left mapped for good under views that escaped a thread that exited.
   */
  counters(): { mapped: number; unmapped: number; keeping: number; orphaned: number };
  /**
   * The bounds calls enforce: a view's bytes; reads and ranges per randomReads call; bytes one
   * touch/readPages call walks; the address space one map may ask for; views a live handle
   * holds (pinned); smaps streams open at once; mapped bytes one thpRanges call reads.
   */
  limits(): { maxView: number; maxReads: number; maxRanges: number; maxTouch: number; maxMap: number; maxPinnedViews: number; maxStreams: number; maxThpRangeBytes: number };
  /** Only VMAs with ≥ minAnonymous Anonymous bytes and ≥ minSize bytes are handed over; `sums` covers all. */
  smaps(pid: number | 'self', rollup?: boolean, minAnonymous?: number, minSize?: number, fields?: readonly string[]): FlatSmaps;
  /** smaps read and parsed on a thread of its own, handed over in batches (smapsNext) while the rest is read. */
  smapsStream(pid: number | 'self', minAnonymous?: number, minSize?: number, fields?: readonly string[]): SmapsStream;
  /** The next batch, or the end with the totals; throws what smaps() would. */
  smapsNext(stream: SmapsStream): FlatBatch | (FlatBatch & { done: true; total: number; sums: Float64Array });
  /** Stop the stream's thread now. */
  smapsClose(stream: SmapsStream): void;
  /** `piece`: feed the text through the reader's fixed buffer at most this many bytes a read (tests). */
  parseSmaps(text: string | Uint8Array, piece?: number): FlatSmaps;
  readProc(pid: number | 'self', file: 'status' | 'stat' | 'cmdline' | 'comm'): string;
  /** Pages of the ranges (start, end pairs) whose frame is a THP (kpageflags), as pairs; null: frame numbers hidden (not root). */
  thpRanges(pid: number | 'self', ranges: Float64Array): Float64Array | null;
  /** The THP pages of (start, end, group) triples by folio as tools/mm/thpmaps classifies them: quintuples group, anon, class (0 partial, 1 aligned, 2 unaligned), order, pages; null: hidden (not root). */
  thpFolios(pid: number | 'self', ranges: Float64Array): Float64Array | null;
  /** _exit(2): for a command whose output has all left (no exit handlers run). */
  exitNow(code: number): never;
  /** Every byte to `fd`, waiting in poll(2) while a non-blocking pipe is full. */
  writeAll(fd: number, bytes: Uint8Array): void;
  /** One walk over [start, end) with one fd; `withRuns` false: totals only, `runs` empty. */
  pagemapScan(pid: number | 'self', start: number, end: number, withRuns?: boolean): { presentBytes: number; hugeBytes: number; runs: Float64Array };
  pageSize(): number;
  thpDisabled(): boolean;
  setThpDisabled(disabled: boolean): void;
  /** A pidfd: the process itself, or none, whatever becomes of its pid. */
  pidfdOpen(pid: number | 'self'): Pidfd;
  /** The process has not exited: its pid is still its own. */
  pidfdAlive(pidfd: Pidfd): boolean;
  pidfdClose(pidfd: Pidfd): void;
  /** MADV_COLLAPSE in another process (process_madvise on its pidfd): per range 0, or the errno name. */
  collapseIn(pidfd: Pidfd, ranges: Float64Array): (0 | string)[];
  /** Zero pages per range (start, length pairs) of a process's memory, read (process_vm_readv) up to `budget` bytes in all. */
  zeroPages(pid: number | 'self', ranges: Float64Array, budget: number): { zero: Float64Array; read: Float64Array; bytes: number; ns: number };
}

/**
 * Parsed smaps as the addon hands it over (src/native/smaps.ts builds the objects):
 * `shape` per VMA: field count n, n ids into `keys`, thpEligible (0 absent, 1 false, 2 true);
 * `nums` per VMA: start, end, offset, inode, then the n values; `strs` per VMA: perms, dev,
 * path and the space-separated VmFlags, each ended by a NUL. `count` VMAs are handed over
 * (those passing smaps()'s filter) of `total` read; `sums` per key id over all `total` of them.
 */
/** Some of a read's VMAs in the flat form, without the read's totals (a batch of a stream). */
export type FlatBatch = Omit<FlatSmaps, 'total' | 'sums'>;

/** An open smaps stream (an addon object; only smapsNext/smapsClose take it). */
export type SmapsStream = { readonly __smapsStream: unique symbol };

export interface FlatSmaps {
  count: number;
  total: number;
  sums: Float64Array;
  keys: string[];
  shape: Uint32Array;
  nums: Float64Array;
  strs: string;
}

/** One VMA: every numeric smaps field in bytes, camelCase. */
export interface RawVma {
  start: number;
  end: number;
  perms: string;
  offset: number;
  dev: string;
  inode: number;
  path: string;
  thpEligible?: boolean;
  vmFlags: string[];
  [field: string]: number | string | boolean | string[] | undefined;
}

/** The package's root: binding.ts runs from src/native (tests) or dist/native (the package). */
const ROOT = path.join(__dirname, '..', '..');

/**
 * The .node file this package loads: build/Release when a build is there (a checkout, a
 * source build at install, the ASan build), else the prebuild in prebuilds/<platform>-<arch>/
 * whose tags fit this host (Node-API, glibc/musl). node-gyp-build makes that choice; this is
 * the one place that asks it, so tests that load the addon in a child load the same file.
 * Throws node-gyp-build's own "No native build was found …" when nothing fits.
 */
export function addonFile(): string {
  // node-gyp-build's own first choice, taken without loading it (each child process and worker
  // that loads hugespan pays for that require; under ASan it was enough to miss a test's
  // deadline), and the only choice for a copy of the package without node_modules (tests run
  // one as another user). The environment overrides node-gyp-build honours go to it.
  const local = path.join(ROOT, 'build', 'Release', 'hugespan.node');
  if (!process.env.PREBUILDS_ONLY && !process.env.HUGESPAN_PREBUILD && fs.existsSync(local)) return local;
  // Required lazily: on a non-Linux host the message below must win over a resolver error.
  const nodeGypBuild = require('node-gyp-build') as { resolve(dir: string): string };
  return nodeGypBuild.resolve(ROOT);
}

function load(): Binding {
  if (process.platform !== 'linux') {
    throw new Error(`hugespan works on Linux only (this is ${process.platform}): transparent huge pages are a Linux kernel feature.`);
  }
  let file = '(none found)';
  try {
    file = addonFile();
    return require(file) as Binding;
  } catch (e) {
    const err = new Error(
      `hugespan: cannot load its native addon (${file}): ${(e as Error).message}\n` +
        `Prebuilt addons ship for Linux x64 and arm64 (glibc). Elsewhere, build it with ` +
        `\`npm rebuild hugespan --build-from-source\` (or \`npx node-gyp rebuild\` in a checkout); ` +
        `that needs python3, make, g++ and Node's headers (Debian: apt-get install python3 make g++; ` +
        `offline, point npm_config_nodedir at installed headers, e.g. /usr).`,
    ) as Error & { code: string; cause: unknown };
    err.code = 'ERR_HUGESPAN_ADDON';
    err.cause = e;
    throw err;
  }
}

export const binding: Binding = load();
