/**
 * Owner detection on recorded /proc snapshots of real runtimes (test/fixtures/owners/, written
 * by OWNERS_RECORD=1 npm run test:runtimes): the owner each workload allocated through gets
 * >= 95 % of what it allocated and not much more, every VMA carries evidence, and where the
 * evidence is taken away the answer becomes `unknown`, never another owner. Pure: no process
 * is read here; the live side is test:runtimes.
 */
import * as fs from 'node:fs';
import * as path from 'node:path';
import { attributeOwners, ownerAt, fixesFor, fixEnv, FIXES, OWNERS, versionAtLeast, parseMaps } from '../../src/account/owners';
import type { Owner, OwnerSnapshot } from '../../src/account/owners';
import { goVersion, glibcVersion, bssBytes, elfSection } from '../../src/account/owners/elf';

const MiB = 1 << 20;
const DIR = path.join(__dirname, '..', 'fixtures', 'owners');
interface Fixture {
  workload: string;
  owner: Owner;
  allocated: number;
  snapshot: OwnerSnapshot;
  anon: Record<string, number>;
}
const fixtures: Fixture[] = fs
  .readdirSync(DIR)
  .filter((f) => f.endsWith('.json'))
  .sort()
  .map((f) => JSON.parse(fs.readFileSync(path.join(DIR, f), 'utf8')));

/** Anonymous bytes by owner, as a report would count them (file mappings apart). */
function byOwner(s: OwnerSnapshot, anon: Record<string, number>): Map<Owner, number> {
  const map = attributeOwners(s);
  const out = new Map<Owner, number>();
  for (const [start, bytes] of Object.entries(anon)) {
    const e = parseMaps(s.maps).find((x) => x.start === Number(start));
    if (!e || e.inode !== 0) continue;
    const o = ownerAt(map, e.start, e.end).owner;
    out.set(o, (out.get(o) ?? 0) + bytes);
  }
  return out;
}

describe('recorded snapshots of real runtimes', () => {
  it('has one per runtime the issue names', () => {
    const names = fixtures.map((f) => f.workload);
    for (const n of ['glibc-heap', 'glibc-arena', 'glibc-mmap', 'thread-stack', 'node-v8', 'node-buffer', 'python3']) expect(names).toContain(n);
  });

  for (const f of fixtures) {
    it(`${f.workload}: ${f.owner} holds >= 95 % of the ${f.allocated / MiB} MiB allocated, and not much more`, () => {
      const by = byOwner(f.snapshot, f.anon);
      const total = [...by.values()].reduce((a, b) => a + b, 0);
      const mine = by.get(f.owner) ?? 0;
      expect(mine).toBeGreaterThanOrEqual(0.95 * f.allocated);
      expect(mine).toBeLessThanOrEqual(1.6 * f.allocated + 32 * MiB);
      expect(by.get('unknown') ?? 0).toBeLessThan(0.05 * total);
      for (const e of attributeOwners(f.snapshot).entries) {
        expect(OWNERS.map((o) => o.code)).toContain(e.owner);
        expect(e.evidence.length).toBeGreaterThan(0);
      }
    });

    it(`${f.workload}: without the words at each VMA's start, nothing that rests on them is claimed`, () => {
      const heads = Object.fromEntries(Object.keys(f.snapshot.heads).map((k) => [k, 'unreadable' as const]));
      const blind = attributeOwners({ ...f.snapshot, heads });
      const header: Owner[] = ['glibc-thread-arena', 'glibc-mmap-chunk', 'v8-heap', 'cpython-arenas', 'jemalloc', 'tcmalloc', 'mmap'];
      for (const e of blind.entries) {
        // Layout-only owners stay (stacks, [heap], the Go arena range, the JVM's reservations, bss).
        if (header.includes(e.owner) && e.path !== '[heap]') throw new Error(`${e.start.toString(16)} claimed ${e.owner} with no header read: ${e.evidence.join('; ')}`);
      }
    });
  }

  it('perl, a runtime hugespan has no rules for, recorded live: only glibc is named, its string a glibc mmapped chunk', () => {
    const f = fixtures.find((x) => x.workload === 'perl');
    if (!f) throw new Error('test/fixtures/owners/perl.json missing: OWNERS_RECORD=1 npm run test:runtimes records it');
    expect(attributeOwners(f.snapshot).runtimes.map((r) => r.name)).toEqual(['glibc']);
  });

  it('a runtime hugespan does not know is not given a runtime owner: its memory goes to the allocator underneath or unknown', () => {
    const f = fixtures.find((x) => x.workload === 'glibc-mmap')!;
    // The same process as if it were an interpreter hugespan has no rules for.
    const s = { ...f.snapshot, exe: '/usr/bin/ruby3.1', cmdline: ['ruby', '-e', 'x'] };
    const map = attributeOwners(s);
    expect(map.runtimes.map((r) => r.name)).toEqual(['glibc']);
    const runtimeOwners = new Set<Owner>(['v8-heap', 'go-heap', 'go-runtime', 'jvm-heap', 'jvm-code-cache', 'jvm-metaspace', 'cpython-arenas', 'jemalloc', 'tcmalloc']);
    for (const e of map.entries) expect(runtimeOwners.has(e.owner)).toBe(false);
  });

  it('a VMA that is not in the maps read is unknown, saying so', () => {
    const map = attributeOwners(fixtures[0].snapshot);
    const a = ownerAt(map, 0x1000, 0x2000);
    expect(a.owner).toBe('unknown');
    expect(a.evidence[0]).toMatch(/not in \/proc\/PID\/maps/);
  });
});

describe('fixes by owner and version', () => {
  const runtimes = (glibc: string | null, extra: { name: 'go' | 'jvm' | 'python'; version: string | null }[] = []) =>
    ({ runtimes: [{ name: 'glibc' as const, version: glibc, evidence: '' }, ...extra.map((x) => ({ ...x, evidence: '' }))], entries: [] });

  it('glibc >= 2.35 gets the hugetlb tunable; older glibc is told no knob exists', () => {
    expect(fixesFor(runtimes('2.36'), ['glibc-main-arena'])[0].fix.env).toEqual({ GLIBC_TUNABLES: 'glibc.malloc.hugetlb=1' });
    const old = fixesFor(runtimes('2.31'), ['glibc-main-arena']);
    expect(old).toHaveLength(1);
    expect(old[0].fix.env).toBeUndefined();
    expect(old[0].fix.action).toMatch(/^no knob/);
  });

  it("Go's advice by version: 1.21.0-1.21.3 advise themselves, the rest have no knob", () => {
    const go = (v: string) => fixesFor(runtimes(null, [{ name: 'go', version: v }]), ['go-heap']).map((f) => f.fix.action);
    expect(go('go1.21.2')[0]).toMatch(/^nothing to set/);
    expect(go('go1.21.4')[0]).toMatch(/^no knob/);
    expect(go('go1.19.8')[0]).toMatch(/^no knob/);
  });

  it("CPython's fix holds only with glibc's tunable (glibc >= 2.35)", () => {
    expect(fixesFor(runtimes('2.36', [{ name: 'python', version: '3.11' }]), ['cpython-arenas'])).toHaveLength(1);
    expect(fixesFor(runtimes('2.31', [{ name: 'python', version: '3.11' }]), ['cpython-arenas'])).toHaveLength(0);
  });

  it('every fix names its source and cost; one with a knob sets only the environment', () => {
    for (const f of FIXES) {
      expect(f.source).toMatch(/^https:\/\//);
      expect(f.cost.length).toBeGreaterThan(10);
      if (!f.env) expect(f.action).toMatch(/^no knob|^nothing to set|^in the program/);
    }
  });

  it('fixEnv joins with what the environment already has, once, the fix winning a name both set', () => {
    const env = fixEnv(FIXES.filter((f) => f.env?.GLIBC_TUNABLES), { GLIBC_TUNABLES: 'glibc.malloc.arena_max=2:glibc.malloc.tcache_count=0' });
    expect(env.GLIBC_TUNABLES).toBe('glibc.malloc.arena_max=1:glibc.malloc.tcache_count=0:glibc.malloc.hugetlb=1');
    expect(fixEnv(FIXES.filter((f) => f.env?.MALLOC_CONF), { MALLOC_CONF: 'narenas:2' }).MALLOC_CONF).toBe('narenas:2,thp:always,metadata_thp:always');
    expect(env.PYTHONMALLOC).toBe('malloc');
  });

  it('versionAtLeast compares dotted numbers, prefixes aside', () => {
    expect(versionAtLeast('go1.21.4', '1.21.4')).toBe(true);
    expect(versionAtLeast('2.36', '2.35')).toBe(true);
    expect(versionAtLeast('2.9', '2.35')).toBe(false);
    expect(versionAtLeast(null, '1')).toBe(false);
  });
});

/** A minimal ELF64 LE with one section besides the name table: what the Go linker writes. */
function elfWith(name: string, data: Buffer): Buffer {
  const names = Buffer.from(`\0${name}\0.shstrtab\0`, 'latin1');
  const dataAt = 64;
  const namesAt = dataAt + data.length;
  const shoff = namesAt + names.length;
  const elf = Buffer.alloc(shoff + 3 * 64);
  elf.writeUInt32BE(0x7f454c46, 0);
  elf[4] = 2;
  elf[5] = 1;
  elf.writeBigUInt64LE(BigInt(shoff), 0x28);
  elf.writeUInt16LE(64, 0x3a);
  elf.writeUInt16LE(3, 0x3c);
  elf.writeUInt16LE(2, 0x3e);
  data.copy(elf, dataAt);
  names.copy(elf, namesAt);
  const sh = (i: number, nameAt: number, offset: number, size: number) => {
    elf.writeUInt32LE(nameAt, shoff + i * 64);
    elf.writeBigUInt64LE(BigInt(offset), shoff + i * 64 + 0x18);
    elf.writeBigUInt64LE(BigInt(size), shoff + i * 64 + 0x20);
  };
  sh(1, 1, dataAt, data.length);
  sh(2, 2 + name.length, namesAt, names.length);
  return elf;
}

describe('what is read from the program files', () => {
  it("a Go binary's version from .go.buildinfo (Go >= 1.18 layout), none from a non-Go binary", () => {
    const info = Buffer.alloc(48);
    Buffer.from('\xff Go buildinf:', 'latin1').copy(info);
    info[14] = 8;
    info[15] = 2;
    info[32] = 8;
    info.write('go1.19.8', 33, 'latin1');
    expect(goVersion(elfWith('.go.buildinfo', info))).toBe('go1.19.8');
    // The pre-1.18 layout (flags bit 2 clear): a Go binary whose version is not read.
    info[15] = 0;
    expect(goVersion(elfWith('.go.buildinfo', info))).toBeNull();
    expect(goVersion(elfWith('.data', info))).toBeUndefined();
    expect(elfSection(Buffer.from('not an elf at all, long enough to have a header of sixty-four bytes'), '.x')).toBeNull();
    expect(goVersion(fs.readFileSync(process.execPath).subarray(0, 1 << 16))).toBeUndefined();
  });

  it("glibc's release from its banner, and a writable segment's .bss", () => {
    expect(glibcVersion(Buffer.from('GNU C Library (Debian GLIBC 2.36-9) stable release version 2.36.\n'))).toBe('2.36');
    expect(glibcVersion(Buffer.from('nothing here'))).toBeNull();
    expect(bssBytes(fs.readFileSync(process.execPath))).toBeGreaterThan(0);
  });
});
