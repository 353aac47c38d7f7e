/**
 * The two facts owner detection reads from a program's files: a Go binary's build info (the
 * `.go.buildinfo` ELF section, Go >= 1.18 layout, with the pre-1.18 pointer layout left
 * unread), and glibc's release from the "release version" banner libc.so.6 carries.
 * Invariant: pure over bytes handed in; a file that is not what it should be gives null, never
 * a throw or a guess.
 */

/** The magic `.go.buildinfo` opens with (cmd/go/internal/version, debug/buildinfo). */
const GO_MAGIC = Buffer.from('\xff Go buildinf:', 'latin1');

/** An ELF file's section `name` as [file offset, size], or null (not ELF64 LE, no such section). */
export function elfSection(elf: Buffer, name: string): [number, number] | null {
  if (elf.length < 64 || elf.readUInt32BE(0) !== 0x7f454c46 || elf[4] !== 2 || elf[5] !== 1) return null;
  const shoff = Number(elf.readBigUInt64LE(0x28));
  const shentsize = elf.readUInt16LE(0x3a);
  const shnum = elf.readUInt16LE(0x3c);
  const shstrndx = elf.readUInt16LE(0x3e);
  if (!shoff || shentsize < 64 || shoff + shnum * shentsize > elf.length || shstrndx >= shnum) return null;
  const header = (i: number): { nameAt: number; offset: number; size: number } => {
    const at = shoff + i * shentsize;
    return { nameAt: elf.readUInt32LE(at), offset: Number(elf.readBigUInt64LE(at + 0x18)), size: Number(elf.readBigUInt64LE(at + 0x20)) };
  };
  const names = header(shstrndx);
  for (let i = 0; i < shnum; i++) {
    const h = header(i);
    const at = names.offset + h.nameAt;
    if (at + name.length >= elf.length) continue;
    if (elf.toString('latin1', at, at + name.length) === name && elf[at + name.length] === 0) return [h.offset, h.size];
  }
  return null;
}

/**
 * The Go version a binary was built with ("go1.19.8"), from `.go.buildinfo`: flags bit 2 means
 * the version is inlined as a varint-prefixed string at offset 32 (Go >= 1.18). `undefined`:
 * not a Go binary (no section); null: a Go binary whose version is not in that layout.
 */
export function goVersion(elf: Buffer): string | null | undefined {
  const s = elfSection(elf, '.go.buildinfo');
  if (!s) return undefined;
  const [offset, size] = s;
  const info = elf.subarray(offset, offset + size);
  if (info.length < 33 || !info.subarray(0, GO_MAGIC.length).equals(GO_MAGIC)) return null;
  if ((info[15] & 2) === 0) return null;
  let n = 0;
  let shift = 0;
  let at = 32;
  for (; at < info.length && at < 42; at++) {
    n += (info[at] & 0x7f) * 2 ** shift;
    shift += 7;
    if ((info[at] & 0x80) === 0) break;
  }
  at++;
  const version = info.toString('latin1', at, at + n);
  return /^go1\.\d+/.test(version) ? version : null;
}

/** glibc's release ("2.36") from the banner in libc.so.6; null when it is not there. */
export function glibcVersion(libc: Buffer): string | null {
  const at = libc.indexOf('release version ');
  if (at < 0) return null;
  return /^release version (\d+\.\d+)/.exec(libc.toString('latin1', at, at + 32))?.[1] ?? null;
}

/** The bytes of the writable PT_LOAD segment past its file part (.bss and kin); null when not ELF64 LE. */
export function bssBytes(elf: Buffer): number | null {
  if (elf.length < 64 || elf.readUInt32BE(0) !== 0x7f454c46 || elf[4] !== 2 || elf[5] !== 1) return null;
  const phoff = Number(elf.readBigUInt64LE(0x20));
  const phentsize = elf.readUInt16LE(0x36);
  const phnum = elf.readUInt16LE(0x38);
  let bss = 0;
  for (let i = 0; i < phnum; i++) {
    const at = phoff + i * phentsize;
    if (at + 56 > elf.length) return null;
    // PT_LOAD (1) with PF_W (2)
    if (elf.readUInt32LE(at) !== 1 || (elf.readUInt32LE(at + 4) & 2) === 0) continue;
    bss = Math.max(bss, Number(elf.readBigUInt64LE(at + 0x28)) - Number(elf.readBigUInt64LE(at + 0x20)));
  }
  return bss;
}

/** jemalloc's JEMALLOC_VERSION ("5.3.0-0-g<sha>") as "5.3.0"; null when not found. */
export function jemallocVersion(lib: Buffer): string | null {
  return /(\d+\.\d+\.\d+)-\d+-g[0-9a-f]{40}/.exec(lib.toString('latin1'))?.[1] ?? null;
}

/** gperftools' TC_VERSION_STRING ("gperftools 2.10") as "2.10"; null when not found. */
export function gperftoolsVersion(lib: Buffer): string | null {
  return /gperftools (\d+\.\d+(?:\.\d+)?)/.exec(lib.toString('latin1'))?.[1] ?? null;
}
