/**
 * What each owner's program can change to put its memory on huge pages, by runtime version,
 * from the runtimes' own sources and docs: the setting (environment only, so `hugespan run
 * --fix` can apply it to any command), its cost, and its source. Where no knob exists the fix
 * says so and what the system-wide choice costs.
 * Invariant: a fix with `env` was applied to the real runtime here by `npm run test:runtimes`,
 * and its effect is in README's table; a fix without one is a statement, never a guess at a knob.
 */
import { OWNERS } from './detect';
import type { Owner, OwnerMap, Runtime } from './detect';
import { argError, arrayArg, objectArg, objectField, oneOfArg, optionsArg, stringArg } from '../../native/args';

export interface Fix {
  /** The owners whose memory it moves onto huge pages. */
  owners: Owner[];
  /** The runtime whose version decides it; null: any process. */
  runtime: Runtime['name'] | null;
  /** The versions it holds for, in words ("glibc >= 2.35"). */
  versions: string;
  /** Whether it holds for this version (null: the version was not read). */
  applies: (version: string | null) => boolean;
  /** The environment to set; absent: no knob exists. */
  env?: Record<string, string>;
  /** Owners the memory moves to under the fix (PYTHONMALLOC=malloc hands pymalloc's objects to glibc). */
  movesTo?: Owner[];
  /** What to do, one sentence. */
  action: string;
  /** What it costs (RSS, latency), where known. */
  cost: string;
  source: string;
}

/** "2.36" >= "2.35" on dotted numbers (a "go1.21.4" or "17.0.2+8" prefix and suffix ignored). */
export function versionAtLeast(version: string | null, min: string): boolean {
  if (version === null) return false;
  const a = (version.match(/\d+(?:\.\d+)*/)?.[0] ?? '').split('.').map(Number);
  const b = min.split('.').map(Number);
  for (let i = 0; i < b.length; i++) {
    const x = a[i] ?? 0;
    if (x !== b[i]) return x > b[i];
  }
  return true;
}

const between = (v: string | null, lo: string, hiExclusive: string): boolean => versionAtLeast(v, lo) && !versionAtLeast(v, hiExclusive);
const GLIBC_OWNERS: Owner[] = ['glibc-main-arena', 'glibc-thread-arena', 'glibc-mmap-chunk'];
const SYSTEM_WIDE = 'the only other way is enabled=always host-wide, which puts every eligible anonymous mapping of every process on huge pages (more RSS where they are sparsely used; khugepaged work)';

export const FIXES: Fix[] = [
  {
    owners: ['glibc-main-arena', 'glibc-mmap-chunk'],
    runtime: 'glibc',
    versions: 'glibc >= 2.35',
    applies: (v) => versionAtLeast(v, '2.35'),
    env: { GLIBC_TUNABLES: 'glibc.malloc.hugetlb=1' },
    action: 'set GLIBC_TUNABLES=glibc.malloc.hugetlb=1: malloc madvises (MADV_HUGEPAGE) the brk heap it grows and its mmapped chunks',
    cost: 'heap growth is rounded up to 2 MiB (up to 2 MiB more RSS at the heap top); first touches fault 2 MiB at a time (longer page faults)',
    source: 'https://www.gnu.org/software/libc/manual/html_node/Memory-Allocation-Tunables.html',
  },
  {
    // Measured on 2.36: hugetlb=1 leaves thread arena heaps unadvised (arena.c's heaps are not
    // sysmalloc's brk or mmapped chunks); one arena for every thread puts them on the main one.
    owners: ['glibc-thread-arena'],
    runtime: 'glibc',
    versions: 'glibc >= 2.35',
    applies: (v) => versionAtLeast(v, '2.35'),
    env: { GLIBC_TUNABLES: 'glibc.malloc.arena_max=1:glibc.malloc.hugetlb=1' },
    movesTo: ['glibc-main-arena'],
    action: "set GLIBC_TUNABLES=glibc.malloc.arena_max=1:glibc.malloc.hugetlb=1: hugetlb=1 alone does not advise thread arenas' heaps, so every thread allocates from the main arena, which it does advise",
    cost: 'one arena for all threads: malloc lock contention in allocation-heavy multithreaded code; heap growth rounded to 2 MiB',
    source: 'https://www.gnu.org/software/libc/manual/html_node/Memory-Allocation-Tunables.html',
  },
  {
    owners: GLIBC_OWNERS,
    runtime: 'glibc',
    versions: 'glibc < 2.35',
    applies: (v) => v !== null && !versionAtLeast(v, '2.35'),
    action: 'no knob: glibc before 2.35 never advises huge pages; preload an allocator that does (jemalloc with MALLOC_CONF=thp:always), or ' + SYSTEM_WIDE,
    cost: 'see the allocator switched to',
    source: 'https://sourceware.org/glibc/wiki/Release/2.35',
  },
  {
    owners: ['jemalloc'],
    runtime: 'jemalloc',
    versions: 'jemalloc >= 5.1',
    applies: (v) => v === null || versionAtLeast(v, '5.1'),
    env: { MALLOC_CONF: 'thp:always,metadata_thp:always' },
    action: 'set MALLOC_CONF=thp:always,metadata_thp:always: jemalloc madvises its extents and its metadata hugepage',
    cost: "extents are advised whole: RSS grows to full 2 MiB pages where they are partly used; purging unused pages then splits them (jemalloc's docs)",
    source: 'https://jemalloc.net/jemalloc.3.html#opt.thp',
  },
  {
    owners: ['tcmalloc'],
    runtime: 'tcmalloc',
    versions: 'gperftools, every version',
    applies: () => true,
    action: "no knob: gperftools' tcmalloc never advises huge pages (google/tcmalloc, a different library, has a hugepage-aware allocator); " + SYSTEM_WIDE,
    cost: 'enabled=always: more RSS where its spans are sparsely used',
    source: 'https://gperftools.github.io/gperftools/tcmalloc.html',
  },
  {
    owners: ['v8-heap'],
    runtime: 'node',
    versions: 'every node/V8',
    applies: () => true,
    action: "no knob: V8 has no flag to advise its heap, and its pages are 256 KiB (kPageSize) at random addresses, so even enabled=always rarely fills a 2 MiB frame; node's Buffers are malloc'd: the glibc fix moves those",
    cost: 'enabled=always: little gain for the V8 heap itself, more RSS elsewhere',
    source: 'https://github.com/v8/v8/blob/main/src/common/globals.h',
  },
  {
    owners: ['go-heap'],
    runtime: 'go',
    versions: 'go1.21.0 - go1.21.3',
    applies: (v) => between(v, '1.21.0', '1.21.4'),
    action: 'nothing to set: these releases advise the heap hugepage and collapse it (MADV_COLLAPSE) themselves; go1.21.4 removed that for its RSS cost',
    cost: 'the reason it was removed: RSS growth and khugepaged CPU in some programs (golang/go#63334)',
    source: 'https://go.dev/doc/gc-guide#Linux_transparent_huge_pages',
  },
  {
    owners: ['go-heap'],
    runtime: 'go',
    versions: 'go >= 1.21.4, and before 1.21',
    applies: (v) => !between(v, '1.21.0', '1.21.4'),
    action: 'no knob: the runtime does not advise its heap hugepage (GODEBUG=disablethp=1, go1.21.6+, only turns THP off); ' + SYSTEM_WIDE,
    cost: "enabled=always: the heap's arenas get huge pages at first touch; the scavenger returns memory in 4 KiB pages, splitting them",
    source: 'https://go.dev/doc/gc-guide#Linux_transparent_huge_pages',
  },
  {
    owners: ['jvm-heap', 'jvm-code-cache'],
    runtime: 'jvm',
    versions: 'HotSpot >= 7 (JDK 17 here)',
    applies: (v) => v === null || versionAtLeast(v, '7'),
    env: { JAVA_TOOL_OPTIONS: '-XX:+UseTransparentHugePages' },
    action: 'run the JVM with -XX:+UseTransparentHugePages (or JAVA_TOOL_OPTIONS): HotSpot madvises the Java heap and code cache hugepage',
    cost: 'the heap commits in 2 MiB pages: more RSS for partly used regions; with defrag=madvise first touches may stall in compaction',
    source: 'https://docs.oracle.com/en/java/javase/17/docs/specs/man/java.html',
  },
  {
    owners: ['jvm-metaspace'],
    runtime: 'jvm',
    versions: 'HotSpot, every version',
    applies: () => true,
    action: 'no knob: -XX:+UseTransparentHugePages does not advise metaspace; ' + SYSTEM_WIDE,
    cost: 'enabled=always: more RSS for sparsely used metaspace chunks',
    source: 'https://openjdk.org/jeps/387',
  },
  {
    owners: ['cpython-arenas'],
    runtime: 'python',
    versions: 'CPython 3.x with glibc >= 2.35',
    applies: () => true,
    env: { PYTHONMALLOC: 'malloc', GLIBC_TUNABLES: 'glibc.malloc.hugetlb=1' },
    movesTo: GLIBC_OWNERS,
    action: "set PYTHONMALLOC=malloc and GLIBC_TUNABLES=glibc.malloc.hugetlb=1: objects go to glibc's malloc instead of pymalloc's 1 MiB arenas, and glibc advises its heap hugepage",
    cost: "pymalloc is faster than malloc for small objects: allocation-heavy code slows (tens of % in microbenchmarks); glibc's heap keeps freed memory longer",
    source: 'https://docs.python.org/3/using/cmdline.html#envvar-PYTHONMALLOC',
  },
  {
    owners: ['thread-stack', 'main-stack'],
    runtime: null,
    versions: 'every runtime',
    applies: () => true,
    action: 'no knob: no runtime advises its thread stacks; a C program can give pthread_attr_setstack memory it advised itself; ' + SYSTEM_WIDE,
    cost: 'enabled=always: up to 2 MiB RSS per thread stack for the few KiB most threads use',
    source: 'https://man7.org/linux/man-pages/man3/pthread_attr_setstack.3.html',
  },
  {
    owners: ['mmap'],
    runtime: null,
    versions: 'any program',
    applies: () => true,
    action: 'in the program: madvise(addr, len, MADV_HUGEPAGE) the mapping (2 MiB-aligned for whole huge pages), or MADV_COLLAPSE it once filled',
    cost: 'RSS rounds up to 2 MiB where the range is sparsely touched',
    source: 'https://man7.org/linux/man-pages/man2/madvise.2.html',
  },
];

export interface OwnerFix {
  /** The owners present that the fix is for. */
  owners: Owner[];
  fix: Fix;
  /** The version the choice was made on (null where not read). */
  version: string | null;
}

const RUNTIMES: readonly Runtime['name'][] = ['glibc', 'jemalloc', 'tcmalloc', 'node', 'python', 'jvm', 'go'];

/** map.runtimes copied and checked: each a known runtime's name with a version string or null. */
function runtimesArg(value: unknown): Pick<Runtime, 'name' | 'version'>[] {
  return arrayArg(value, 'map.runtimes').map((r, i) => {
    const o = objectArg(r, `map.runtimes[${i}]`);
    const version = objectField(o, 'version', `map.runtimes[${i}]`);
    return { name: oneOfArg(objectField(o, 'name', `map.runtimes[${i}]`), `map.runtimes[${i}].name`, RUNTIMES), version: version === null || version === undefined ? null : stringArg(version, `map.runtimes[${i}].version`) };
  });
}

/** The fixes that hold for the owners present, by the versions the process maps; one entry per fix. */
export function fixesFor(mapArg: OwnerMap, ownersArg: readonly Owner[]): OwnerFix[] {
  const map = { runtimes: runtimesArg(objectField(objectArg(mapArg, 'map'), 'runtimes', 'map')) };
  const codes = OWNERS.map((o) => o.code);
  const present = [...new Set(arrayArg(ownersArg, 'owners').map((o, i) => oneOfArg(o, `owners[${i}]`, codes)))];
  const glibc = map.runtimes.find((r) => r.name === 'glibc');
  const out: OwnerFix[] = [];
  for (const fix of FIXES) {
    const mine = present.filter((o) => fix.owners.includes(o));
    if (!mine.length) continue;
    const rt = fix.runtime === null ? undefined : map.runtimes.find((r) => r.name === fix.runtime);
    if (fix.runtime !== null && !rt) continue;
    // CPython's fix rides on glibc's tunable: it holds where glibc's does.
    if (fix.runtime === 'python' && !versionAtLeast(glibc?.version ?? null, '2.35')) continue;
    const version = rt?.version ?? null;
    if (fix.applies(version)) out.push({ owners: mine, fix, version });
  }
  return out;
}

/**
 * One environment from several fixes, on top of `base`: GLIBC_TUNABLES joined by ':', MALLOC_CONF
 * by ',', JAVA_TOOL_OPTIONS by ' '; a fix's name=value replaces the same name's value in base.
 */
export function fixEnv(fixesArg: Fix[], baseArg: Record<string, string | undefined> = {}): Record<string, string> {
  // Fixes are this module's own (FIXES); the base is read only for the names they set.
  const fixes = arrayArg(fixesArg, 'fixes').map((f, i) => {
    if (!FIXES.includes(f as Fix)) throw argError(TypeError, 'ERR_INVALID_ARG_VALUE', `The "fixes[${i}]" element must be one of FIXES`);
    return f as Fix;
  });
  const names = [...new Set(fixes.flatMap((f) => Object.keys(f.env ?? {})))];
  const given = optionsArg<Record<string, unknown>>(baseArg, 'base', names);
  const base: Record<string, string | undefined> = {};
  for (const k of names) base[k] = given[k] === undefined ? undefined : stringArg(given[k], `base.${k}`);
  const sep: Record<string, string> = { GLIBC_TUNABLES: ':', MALLOC_CONF: ',', JAVA_TOOL_OPTIONS: ' ' };
  const out: Record<string, string> = {};
  for (const f of fixes) {
    for (const [k, v] of Object.entries(f.env ?? {})) {
      const by = sep[k];
      const have = out[k] ?? base[k];
      if (have === undefined || have === '' || !by) {
        out[k] = have && !by ? have : v;
        continue;
      }
      // name=value parts: the fix's value for a name replaces the one already there.
      const parts = have.split(by);
      const name = (p: string): string => p.split('=')[0];
      for (const part of v.split(by)) {
        const at = parts.findIndex((p) => name(p) === name(part));
        if (at >= 0) parts[at] = part;
        else parts.push(part);
      }
      out[k] = parts.join(by);
    }
  }
  return out;
}
