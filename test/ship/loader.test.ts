/**
 * The one loader (src/native/binding.ts, built to dist/native/binding.js) as an installed package
 * meets it: a local build/Release wins over a prebuild (so the ASan build and a checkout's own
 * build are what tests load), a fitting prebuild is loaded when there is no local build, and
 * with neither the error says what happened and what to do. Each case runs in a fresh node
 * over a throwaway package directory under the OS temp dir, removed afterwards.
 */
import { spawnSync } from 'node:child_process';
import * as fs from 'node:fs';
import * as os from 'node:os';
import * as path from 'node:path';
import { ADDON } from '../support/child';

const ROOT = path.join(__dirname, '..', '..');
const TUPLE = `${process.platform}-${process.arch}`;
// The libc tag node-gyp-build looks for (it takes a host with /etc/alpine-release for musl).
const LIBC = fs.existsSync('/etc/alpine-release') ? 'musl' : 'glibc';
const dirs: string[] = [];

/** A package named hugespan holding the built loader and whatever `files` adds (path → source or ''). */
function fakePackage(files: Record<string, string>): string {
  const dir = fs.mkdtempSync(path.join(os.tmpdir(), 'hugespan-loader-'));
  dirs.push(dir);
  fs.writeFileSync(path.join(dir, 'package.json'), JSON.stringify({ name: 'hugespan', version: '0.0.0' }));
  fs.mkdirSync(path.join(dir, 'dist', 'native'), { recursive: true });
  fs.copyFileSync(path.join(ROOT, 'dist', 'native', 'binding.js'), path.join(dir, 'dist', 'native', 'binding.js'));
  for (const [rel, from] of Object.entries(files)) {
    fs.mkdirSync(path.dirname(path.join(dir, rel)), { recursive: true });
    if (from) fs.copyFileSync(from, path.join(dir, rel));
    else fs.writeFileSync(path.join(dir, rel), '');
  }
  return dir;
}

/** Loads the fake package's binding in a child; node-gyp-build comes from this checkout. */
function load(dir: string, withDeps = true): { file?: string; pageSize?: number; code?: string; message?: string } {
  const code = `
    try {
      const m = require(${JSON.stringify(path.join(dir, 'dist', 'native', 'binding.js'))});
      console.log(JSON.stringify({ file: m.addonFile(), pageSize: m.binding.pageSize() }));
    } catch (e) { console.log(JSON.stringify({ code: e.code, message: e.message })); }`;
  const r = spawnSync(process.execPath, ['-e', code], { encoding: 'utf8', timeout: 30000, env: { ...process.env, NODE_PATH: withDeps ? path.join(ROOT, 'node_modules') : '' } });
  if (r.status !== 0) throw new Error(`loader child exited ${r.status}: ${r.stderr}`);
  return JSON.parse(r.stdout.trim().split('\n').pop()!);
}

afterAll(() => {
  for (const d of dirs) fs.rmSync(d, { recursive: true, force: true });
});

describe('the addon loader', () => {
  it('prefers build/Release over a prebuild (the ASan build, a checkout)', () => {
    // The prebuild here is an empty file: were it chosen, loading it would fail.
    const dir = fakePackage({ 'build/Release/hugespan.node': ADDON, [`prebuilds/${TUPLE}/hugespan.${LIBC}.node`]: '' });
    const r = load(dir);
    expect(r.message).toBeUndefined();
    expect(r.file).toBe(path.join(dir, 'build', 'Release', 'hugespan.node'));
    expect(r.pageSize).toBeGreaterThan(0);
  });

  it('loads the fitting prebuild when there is no local build (an installed package)', () => {
    const dir = fakePackage({ [`prebuilds/${TUPLE}/hugespan.${LIBC}.node`]: ADDON, [`prebuilds/${process.platform}-none/hugespan.${LIBC}.node`]: '' });
    const r = load(dir);
    expect(r.message).toBeUndefined();
    expect(r.file).toBe(path.join(dir, 'prebuilds', TUPLE, `hugespan.${LIBC}.node`));
    expect(r.pageSize).toBeGreaterThan(0);
  });

  it('says what is missing and what to do when nothing fits', () => {
    const dir = fakePackage({ [`prebuilds/${process.platform}-none/hugespan.${LIBC}.node`]: '' });
    const r = load(dir);
    expect(r.code).toBe('ERR_HUGESPAN_ADDON');
    expect(r.message).toMatch(/No native build was found for platform=linux arch=/);
    expect(r.message).toMatch(/Prebuilt addons ship for Linux x64 and arm64 \(glibc\)/);
    expect(r.message).toMatch(/npm rebuild hugespan --build-from-source/);
    expect(r.message).toMatch(/npm_config_nodedir/);
  });

  it('names the file when a found addon fails to load', () => {
    const dir = fakePackage({ 'build/Release/hugespan.node': '' });
    const r = load(dir);
    expect(r.code).toBe('ERR_HUGESPAN_ADDON');
    expect(r.message).toContain(path.join(dir, 'build', 'Release', 'hugespan.node'));
  });
});

describe('a copy without node_modules (tests run one as another user)', () => {
  it('still loads its local build', () => {
    const dir = fakePackage({ 'build/Release/hugespan.node': ADDON });
    const r = load(dir, false);
    expect(r.message).toBeUndefined();
    expect(r.file).toBe(path.join(dir, 'build', 'Release', 'hugespan.node'));
  });

  it('without one, says node-gyp-build is missing', () => {
    const dir = fakePackage({ [`prebuilds/${TUPLE}/hugespan.${LIBC}.node`]: ADDON });
    const r = load(dir, false);
    expect(r.code).toBe('ERR_HUGESPAN_ADDON');
    expect(r.message).toMatch(/Cannot find module 'node-gyp-build'/);
  });
});

describe('package.json ships prebuilds', () => {
  const pkg = JSON.parse(fs.readFileSync(path.join(ROOT, 'package.json'), 'utf8'));
  it('installs with node-gyp-build, which compiles only when no prebuild fits', () => {
    expect(pkg.scripts.install).toBe('node-gyp-build');
    expect(pkg.dependencies['node-gyp-build']).toBeDefined();
    expect(pkg.files).toEqual(expect.arrayContaining(['prebuilds/', 'dist/', 'native/', 'binding.gyp']));
  });
});
