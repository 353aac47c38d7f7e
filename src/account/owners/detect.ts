/**
 * Who made each anonymous VMA: the runtime or allocator, with the evidence read, from an
 * OwnerSnapshot (maps, exe, cmdline, stack pointers, first words, versions).
 * Invariant: pure; every attribution carries the facts it rests on, and where they do not
 * settle it the owner is `unknown`, saying what was missing: never a silent guess. The owners
 * are a bounded set (OWNERS), so an exporter can label by them.
 */
import * as path from 'node:path';
import { MapsEntry, OwnerSnapshot, parseMaps, Head, snapshotArg } from './snapshot';

export const OWNERS = [
  { code: 'glibc-main-arena', meaning: "glibc malloc's main arena: the brk heap ([heap])" },
  { code: 'glibc-thread-arena', meaning: "glibc malloc's thread arenas: 64 MiB-aligned heaps (HEAP_MAX_SIZE)" },
  { code: 'glibc-mmap-chunk', meaning: 'glibc malloc chunks above the mmap threshold, each its own mmap (in node: Buffer backing stores)' },
  { code: 'jemalloc', meaning: "jemalloc's extents (libjemalloc mapped)" },
  { code: 'tcmalloc', meaning: "gperftools tcmalloc's heap (libtcmalloc mapped)" },
  { code: 'v8-heap', meaning: "V8's heap pages and code range (node)" },
  { code: 'go-heap', meaning: "the Go heap's arenas (goroutine stacks are allocated from them too)" },
  { code: 'go-runtime', meaning: "the Go runtime's off-heap memory (heap metadata, page summaries)" },
  { code: 'jvm-heap', meaning: 'the Java heap (-Xmx reservation)' },
  { code: 'jvm-code-cache', meaning: "the JVM's JIT code cache" },
  { code: 'jvm-metaspace', meaning: "the JVM's metaspace (class metadata)" },
  { code: 'cpython-arenas', meaning: "CPython's pymalloc object arenas" },
  { code: 'thread-stack', meaning: 'a thread stack (guard page below, or a thread stack pointer inside)' },
  { code: 'main-stack', meaning: "the main thread's stack ([stack])" },
  { code: 'bss', meaning: "a binary's zero-initialised data (.bss, right after its file's writable segment)" },
  { code: 'file-cow', meaning: "copy-on-write copies of a privately mapped file's pages (a binary's or library's written data)" },
  { code: 'mmap', meaning: 'an anonymous mmap with no allocator or runtime signature: by the program or a library' },
  { code: 'unknown', meaning: 'not enough evidence to say who made it' },
] as const;

export type Owner = (typeof OWNERS)[number]['code'];

export interface Attribution {
  owner: Owner;
  /** The facts the owner rests on, each a short sentence. */
  evidence: string[];
}

/** The runtimes a process holds, each with the evidence and version where read. */
export interface Runtime {
  name: 'glibc' | 'jemalloc' | 'tcmalloc' | 'node' | 'python' | 'jvm' | 'go';
  version: string | null;
  evidence: string;
}

export interface OwnerMap {
  runtimes: Runtime[];
  /** Anonymous entries of the maps read, in address order, each with its owner. */
  entries: (MapsEntry & Attribution)[];
}

const KiB = 1024;
const MiB = 1024 * KiB;
const GiB = 1024 * MiB;
/** glibc's HEAP_MAX_SIZE on 64-bit (2 * DEFAULT_MMAP_THRESHOLD_MAX): thread arena heaps are aligned to it. */
const HEAP_MAX_SIZE = 64 * MiB;
/** V8's kPageSize (src/common/globals.h): every heap page is aligned to it. */
const V8_PAGE = 256 * KiB;
/** amd64 Go heap arena hints: 0x00c0 << 32 | i << 40 (runtime/malloc.go mallocinit). */
const GO_HINT_LOW = 0xc0 * 2 ** 32;
/** Above hint 0x7d the ranges meet the mmap area (0x7e.., 0x7f.. under ASLR): an address there says nothing. */
const GO_HINT_TOP = 0x7e * 2 ** 40;
/** HotSpot defaults: ReservedCodeCacheSize with tiered compilation, CompressedClassSpaceSize, a metaspace node. */
const JVM_CODE_CACHE = 240 * MiB;
const JVM_CLASS_SPACE = 1 * GiB;
const JVM_METASPACE_NODE = 64 * MiB;

const hex = (n: number): string => `0x${n.toString(16)}`;
const mib = (n: number): string => (n >= MiB ? `${+(n / MiB).toFixed(1)} MiB` : `${+(n / KiB).toFixed(0)} KiB`);

/** Private anonymous memory (what smaps counts as Anonymous outside files), not the kernel's own. */
function isAnon(e: MapsEntry): boolean {
  return e.inode === 0 && e.perms[3] === 'p' && !/^\[(vvar|vvar_vclock|vdso|vsyscall|uprobes)\]$/.test(e.path);
}

/** A -Xmx512m / -XX:Name=1g style size from the JVM command line, in bytes. */
export function jvmSize(cmdline: string[], flag: RegExp): number | undefined {
  let found: number | undefined;
  for (const a of cmdline) {
    const m = flag.exec(a);
    if (!m) continue;
    const u = { k: KiB, m: MiB, g: GiB, t: 1024 * GiB }[(m[2] || '').toLowerCase() as 'k'];
    found = Number(m[1]) * (u ?? 1);
  }
  return found;
}

export function detectRuntimes(s: OwnerSnapshot, entries: MapsEntry[]): Runtime[] {
  const files = new Set(entries.filter((e) => e.inode !== 0).map((e) => e.path));
  const has = (re: RegExp): string | undefined => [...files].find((f) => re.test(path.basename(f)));
  const out: Runtime[] = [];
  const exe = path.basename(s.exe);
  const libc = has(/^libc\.so\.6$|^libc-2\.\d+\.so$/);
  if (libc) out.push({ name: 'glibc', version: s.versions.glibc ?? null, evidence: `${libc} mapped` });
  const je = has(/^libjemalloc\.so/);
  if (je) out.push({ name: 'jemalloc', version: s.versions.jemalloc ?? null, evidence: `${je} mapped` });
  const tc = has(/^libtcmalloc/);
  if (tc) out.push({ name: 'tcmalloc', version: s.versions.tcmalloc ?? null, evidence: `${tc} mapped` });
  const libnode = has(/^libnode\.so/);
  if (exe === 'node' || exe === 'nodejs' || libnode) out.push({ name: 'node', version: s.versions.node ?? null, evidence: libnode ? `${libnode} mapped` : `exe ${s.exe}` });
  const libpy = has(/^libpython\d/);
  if (/^python\d/.test(exe) || libpy) out.push({ name: 'python', version: s.versions.python ?? null, evidence: libpy ? `${libpy} mapped` : `exe ${s.exe}` });
  const jvm = has(/^libjvm\.so$/);
  if (jvm) out.push({ name: 'jvm', version: s.versions.java ?? null, evidence: `${jvm} mapped` });
  if (s.versions.go !== undefined) out.push({ name: 'go', version: s.versions.go || null, evidence: `${s.exe} has a .go.buildinfo section${s.versions.go ? ` (${s.versions.go})` : ''}` });
  return out;
}

/** glibc's heap_info at a thread arena heap's start: ar_ptr just past a 64 MiB boundary, prev 0 or a heap. */
function isHeapInfo(e: MapsEntry, h: Head | undefined): h is [number, number] {
  if (!Array.isArray(h) || e.start % HEAP_MAX_SIZE !== 0) return false;
  const [arPtr, prev] = h;
  return arPtr > 0 && arPtr % HEAP_MAX_SIZE > 0 && arPtr % HEAP_MAX_SIZE < 0x100 && (prev === 0 || prev % HEAP_MAX_SIZE === 0);
}

/** A glibc mmapped chunk's header: prev_size (alignment slack), size with IS_MMAPPED (2) and not NON_MAIN_ARENA (4). */
function mmappedChunk(e: MapsEntry, h: Head | undefined): number | undefined {
  if (!Array.isArray(h)) return undefined;
  const [prev, size] = h;
  const bytes = size - (size % 8);
  return (size & 2) === 2 && (size & 4) === 0 && prev < 4096 && bytes >= 4096 && bytes % 4096 === 0 && bytes + prev <= e.end - e.start ? bytes : undefined;
}

/** V8's MemoryChunk header: its size first, the page 256 KiB aligned. */
function v8Chunk(e: MapsEntry, h: Head | undefined): number | undefined {
  if (!Array.isArray(h) || e.start % V8_PAGE !== 0) return undefined;
  const size = h[0];
  return size >= 4096 && size % 4096 === 0 && size <= e.end - e.start + 4096 && size <= 8 * GiB ? size : undefined;
}

/** Contiguous anonymous entries (rw and ---p alike): one reservation each, as a runtime makes them. */
function reservations(anon: MapsEntry[]): MapsEntry[][] {
  const runs: MapsEntry[][] = [];
  for (const e of anon) {
    const last = runs[runs.length - 1];
    if (last && last[last.length - 1].end === e.start && !e.path.startsWith('[')) last.push(e);
    else runs.push([e]);
  }
  return runs;
}

/** Attribute every anonymous entry of the snapshot's maps. */
export function attributeOwners(snapshot: OwnerSnapshot): OwnerMap {
  const s = snapshotArg(snapshot);
  const all = parseMaps(s.maps);
  const runtimes = detectRuntimes(s, all);
  const rt = (n: Runtime['name']): Runtime | undefined => runtimes.find((r) => r.name === n);
  const glibc = rt('glibc');
  const je = rt('jemalloc');
  const tc = rt('tcmalloc');
  const node = rt('node');
  const py = rt('python');
  const jvm = rt('jvm');
  const go = rt('go');
  const anon = all.filter(isAnon);
  const runOf = new Map<MapsEntry, MapsEntry[]>();
  for (const run of reservations(anon)) for (const e of run) runOf.set(e, run);
  const before = new Map<MapsEntry, MapsEntry>();
  for (let i = 1; i < all.length; i++) before.set(all[i], all[i - 1]);
  const headOf = (e: MapsEntry): Head | undefined => s.heads[hex(e.start)];
  const sps = [...s.stackPointers].sort((a, b) => a - b);

  // JVM sizes, from the command line where given, else HotSpot's defaults.
  const xmx = jvm ? jvmSize(s.cmdline, /^-(?:Xmx|XX:MaxHeapSize=)(\d+)([kmgt]?)$/i) : undefined;
  const codeCache = jvm ? (jvmSize(s.cmdline, /^-XX:ReservedCodeCacheSize=(\d+)([kmgt]?)$/i) ?? JVM_CODE_CACHE) : 0;
  const classSpace = jvm ? (jvmSize(s.cmdline, /^-XX:CompressedClassSpaceSize=(\d+)([kmgt]?)$/i) ?? JVM_CLASS_SPACE) : 0;
  // V8's reservations: every run holding a page with V8's header (the code range holds guard and rwx parts).
  const v8Runs = new Map<MapsEntry[], MapsEntry>();
  if (node) for (const e of anon) if (v8Chunk(e, headOf(e)) !== undefined && !isHeapInfo(e, headOf(e)) && mmappedChunk(e, headOf(e)) === undefined) v8Runs.set(runOf.get(e)!, e);

  const attribute = (e: MapsEntry): Attribution => {
    const head = headOf(e);
    const size = e.end - e.start;
    const run = runOf.get(e)!;
    const runSize = run[run.length - 1].end - run[0].start;
    const named = /^\[anon:\s*(.*)\]$/.exec(e.path)?.[1];
    const ev: string[] = named ? [`named "${named}" by its maker (PR_SET_VMA_ANON_NAME)`] : [];
    const sp = sps.find((p) => p >= e.start && p < e.end);
    // Goroutine stacks live in the arenas: a stack pointer there does not make it a thread stack.
    if (go && e.start % 2 ** 40 >= GO_HINT_LOW && e.start < GO_HINT_TOP) {
      return { owner: 'go-heap', evidence: [go.evidence, `in the amd64 heap arena hint range ${hex(Math.floor(e.start / 2 ** 40) * 2 ** 40 + GO_HINT_LOW)} (runtime/malloc.go mallocinit); goroutine stacks come from these arenas too`] };
    }
    if (sp !== undefined && e.path !== '[stack]') return { owner: 'thread-stack', evidence: [...ev, `a thread's stack pointer ${hex(sp)} is inside (task/*/syscall)`] };
    if (named) {
      if (/^glibc: malloc arena/.test(named)) return { owner: 'glibc-thread-arena', evidence: ev };
      if (/^glibc: malloc/.test(named)) return { owner: 'glibc-mmap-chunk', evidence: ev };
      if (/pthread stack|stack_and_tls|thread stack/.test(named)) return { owner: 'thread-stack', evidence: ev };
      if (/^Go: heap/.test(named)) return { owner: 'go-heap', evidence: ev };
      if (/^Go: /.test(named)) return { owner: 'go-runtime', evidence: ev };
      if (/^je_|jemalloc/.test(named)) return { owner: 'jemalloc', evidence: ev };
    }
    if (e.path === '[stack]') return { owner: 'main-stack', evidence: ['[stack]: the main thread stack the kernel set up at exec'] };
    if (e.path === '[heap]') {
      if (tc) return { owner: 'tcmalloc', evidence: ['[heap]: the brk heap', `${tc.evidence}: gperftools grows its heap with sbrk first (SbrkSysAllocator)`] };
      if (je) return { owner: 'unknown', evidence: ['[heap]: the brk heap', `${je.evidence}: jemalloc replaces malloc and does not use brk by default, so who grew it is not known`] };
      if (glibc) return { owner: 'glibc-main-arena', evidence: ['[heap]: the brk heap', `${glibc.evidence}: glibc malloc's main arena grows it with sbrk (and nothing else here replaces malloc)`] };
      return { owner: 'unknown', evidence: ['[heap]: a brk heap, but no malloc implementation that uses brk is mapped'] };
    }
    if (isHeapInfo(e, head)) {
      return { owner: 'glibc-thread-arena', evidence: [`starts on a 64 MiB boundary (HEAP_MAX_SIZE) with glibc's heap_info: ar_ptr ${hex(head[0])}, prev ${hex(head[1])}`, ...(glibc ? [glibc.evidence] : [])] };
    }
    const chunk = mmappedChunk(e, head);
    if (chunk !== undefined) {
      const n = Math.round(size / chunk);
      const note = size % chunk === 0 ? (n > 1 ? `the VMA holds ${n} such chunks (adjacent mmaps merge)` : 'the chunk fills the VMA') : 'the VMA is longer than its first chunk: adjacent mappings merged with it';
      return { owner: 'glibc-mmap-chunk', evidence: [`glibc chunk header at its start: size ${mib(chunk)} with IS_MMAPPED`, note, ...(node ? ["node: Buffer/ArrayBuffer backing stores this large are glibc mmapped chunks (node's ArrayBufferAllocator calls calloc)"] : [])] };
    }
    const v8 = v8Runs.get(run);
    if (v8) {
      const h = v8Chunk(v8, headOf(v8))!;
      return { owner: 'v8-heap', evidence: [`${node!.evidence}`, v8 === e ? `V8 page header: size ${mib(h)} first, 256 KiB aligned (kPageSize)` : `in the same reservation as the V8 page at ${hex(v8.start)} (the code range or a page's guard)`] };
    }
    if (jvm) {
      if (xmx !== undefined ? runSize >= xmx * 0.9 && runSize <= xmx : Array.isArray(headOf(run[0])) && (headOf(run[0]) as number[])[0] % 8 === 1 && runSize >= 16 * MiB && run[0].start < 32 * GiB) {
        return { owner: 'jvm-heap', evidence: [jvm.evidence, xmx !== undefined ? `in a ${mib(runSize)} reservation: -Xmx ${mib(xmx)} (less the CDS archive's heap regions)` : `a ${mib(runSize)} reservation below 32 GiB opening with a Java object header (mark word ${headOf(run[0]) && (headOf(run[0]) as number[])[0]})`] };
      }
      if (e.perms === 'rwxp' || runSize === codeCache) return { owner: 'jvm-code-cache', evidence: [jvm.evidence, e.perms === 'rwxp' ? 'writable and executable anonymous memory: JIT-compiled code' : `in a ${mib(runSize)} reservation: ReservedCodeCacheSize`] };
      if (runSize === classSpace) return { owner: 'jvm-metaspace', evidence: [jvm.evidence, `in a ${mib(runSize)} reservation: CompressedClassSpaceSize (the class space)`] };
      if (runSize === JVM_METASPACE_NODE) return { owner: 'jvm-metaspace', evidence: [jvm.evidence, 'in a 64 MiB reservation with no glibc heap_info: a metaspace VirtualSpaceNode'] };
    }
    const below = before.get(e);
    if (below && below.end === e.start && below.inode === 0 && below.perms === '---p' && below.end - below.start <= 64 * KiB && e.perms === 'rw-p') {
      return { owner: 'thread-stack', evidence: [`a ${mib(below.end - below.start)} PROT_NONE guard right below it: a thread stack's layout (glibc allocatestack.c, HotSpot's guard zones)`, sps.length ? 'no thread was seen stopped with its stack pointer here' : 'thread stack pointers could not be read'] };
    }
    const bss = below && below.end === e.start && below.inode !== 0 && below.perms[1] === 'w' ? s.bss?.[below.path] : undefined;
    if (bss !== undefined && size <= Math.ceil(bss / 4096) * 4096 + 4096) {
      return { owner: 'bss', evidence: [`right after ${below!.path}'s writable segment, and no longer than its ELF .bss (${mib(bss)} past the file: PT_LOAD memsz - filesz)`] };
    }
    // From here on the rules rest on what is (not) at the VMA's start: without it, say so.
    if (head === 'unreadable' || head === 'swapped') return { owner: 'unknown', evidence: [`its first page was ${head === 'swapped' ? 'swapped out' : 'not readable (needs ptrace access, as for /proc/PID/mem)'}: no allocator header could be checked`] };
    if (py && e.perms === 'rw-p' && size >= (py.version && /^3\.\d$/.test(py.version) ? 256 * KiB : 1 * MiB)) {
      return { owner: 'cpython-arenas', evidence: [py.evidence, `${mib(size)}, at least pymalloc's ARENA_SIZE (Objects/obmalloc.c: 1 MiB since 3.10), and no glibc chunk header at its start; adjacent arenas merge into one VMA`] };
    }
    const noSig = 'no glibc heap_info or chunk header at its start, not a stack';
    if (je) return { owner: 'jemalloc', evidence: [je.evidence, `${noSig}: jemalloc maps its extents anonymously (the program's own mmaps would look the same)`] };
    if (tc) return { owner: 'tcmalloc', evidence: [tc.evidence, `${noSig}: tcmalloc maps its spans anonymously (the program's own mmaps would look the same)`] };
    if (go && !glibc) return { owner: 'go-runtime', evidence: [go.evidence, 'no libc mapped: every anonymous mapping outside the arenas is the runtime\'s own (sysAlloc, persistentalloc)'] };
    if (head === undefined && !(e.perms[0] === 'r')) return { owner: 'unknown', evidence: ['not readable (PROT_NONE or write-only): no header to check'] };
    return { owner: 'mmap', evidence: head === 'absent' ? mmapUntouched : mmapPlain };
  };
  // Shared evidence for the commonest owner: a process may have tens of thousands of these.
  const unclaimed = `no runtime this tool knows claims it${runtimes.length ? ` (found: ${runtimes.map((r) => r.name).join(', ')})` : ''}`;
  const mmapPlain = ['no glibc heap_info or chunk header at its start, not a stack', unclaimed];
  const mmapUntouched = ['no glibc heap_info or chunk header at its start, not a stack (its first page was never touched, and a glibc chunk writes its header there)', unclaimed];
  return {
    runtimes,
    entries: anon.map((e) => {
      const a = attribute(e);
      return { start: e.start, end: e.end, perms: e.perms, offset: e.offset, inode: e.inode, path: e.path, owner: a.owner, evidence: a.evidence };
    }),
  };
}

/** The attribution of the VMA [start, end) as smaps listed it; `unknown` when maps did not have it. */
export function ownerAt(map: OwnerMap, start: number, end: number): Attribution {
  let lo = 0;
  let hi = map.entries.length;
  while (lo < hi) {
    const mid = (lo + hi) >> 1;
    if (map.entries[mid].end <= start) lo = mid + 1;
    else hi = mid;
  }
  const e = map.entries[lo];
  if (e && e.start <= start && e.end >= end) return { owner: e.owner, evidence: e.evidence };
  return { owner: 'unknown', evidence: ['not in /proc/PID/maps as read just before: the process changed its mappings meanwhile'] };
}
