/**
 * The JSON contract: docs/schema.json is what `npm run schema` generates from the TypeScript
 * interfaces today, the README's JSON example validates against it, and so does real output of
 * `report --pid` (with `--bloat` too), `report` (system), `lab` and `collapse --dry-run`. The
 * schema number in the example is the code's.
 * Invariant: the schema requires every field and allows no other, so a dropped, renamed or
 * invented field fails (the controls below show the validator failing on both).
 */
import { spawn, spawnSync, ChildProcess } from 'node:child_process';
import * as fs from 'node:fs';
import * as path from 'node:path';
import Ajv from 'ajv';
import { itUnless, SCAN_REASON } from '../support/thp';
import { pagemapScanSupported } from '../../src/native/coverage';

/** --bloat and collapse find THPs and frames with PAGEMAP_SCAN. */
const SCAN_REASON_HERE = pagemapScanSupported() ? undefined : SCAN_REASON;

const ROOT = path.join(__dirname, '..', '..');
const CLI = path.join(ROOT, 'dist', 'cli', 'main.js');
const SCHEMA = JSON.parse(fs.readFileSync(path.join(ROOT, 'docs', 'schema.json'), 'utf8'));
const validate = new Ajv({ allErrors: true, strict: false }).compile(SCHEMA);

function problems(doc: unknown): string[] {
  return validate(doc) ? [] : (validate.errors ?? []).map((e) => `${e.instancePath || '/'} ${e.message} ${JSON.stringify(e.params)}`);
}

/** The README's one ```json block. */
function readmeExample(): any {
  const readme = fs.readFileSync(path.join(ROOT, 'README.md'), 'utf8');
  const blocks = [...readme.matchAll(/```json\n([\s\S]*?)```/g)];
  expect(blocks).toHaveLength(1);
  return JSON.parse(blocks[0][1]);
}

function cli(args: string[], timeout = 60000): any {
  const r = spawnSync(process.execPath, [CLI, ...args], { encoding: 'utf8', timeout });
  if (r.status !== 0) throw new Error(`hugespan ${args.join(' ')} exited ${r.status}: ${r.stderr}`);
  return JSON.parse(r.stdout);
}

describe('docs/schema.json', () => {
  it('is what npm run schema generates from the TypeScript types now', () => {
    const r = spawnSync(process.execPath, [path.join(ROOT, 'scripts', 'schema.js'), '--check'], { encoding: 'utf8', timeout: 120000 });
    if (r.status !== 0) throw new Error(`docs/schema.json is out of date with src/cli/report.ts or src/cli/lab.ts: run \`npm run schema\` and commit it (and raise \`schema\` if a field changed meaning or went away)\n${r.stderr}`);
  }, 120000);

  it("the README's JSON example validates, with the code's schema number", () => {
    const example = readmeExample();
    expect(problems(example)).toEqual([]);
    expect(example.kind).toBe('process');
    expect(example.schema).toBe(SCHEMA.definitions.ProcessReport.properties.schema.const);
  });

  it('rejects a dropped field and an invented one (control)', () => {
    const dropped = readmeExample();
    delete dropped.totals.coverage;
    expect(problems(dropped).join('\n')).toMatch(/coverage/);
    const invented = readmeExample();
    invented.vmas[0].hugeBytes = 1;
    expect(problems(invented).join('\n')).toMatch(/additional/);
    const renumbered = { ...readmeExample(), schema: readmeExample().schema + 1 };
    expect(problems(renumbered)).not.toEqual([]);
  });
});

describe('real output validates', () => {
  let target: ChildProcess | undefined;
  afterAll(() => {
    target?.kill();
  });

  it('report --pid PID --json', async () => {
    target = spawn(process.execPath, ['-e', 'const b = Buffer.alloc(8 << 20, 1); console.log("ready"); setInterval(() => b[0]++, 1000)'], { stdio: ['ignore', 'pipe', 'inherit'] });
    await new Promise<void>((resolve, reject) => {
      target!.stdout!.once('data', () => resolve());
      target!.once('exit', (code) => reject(new Error(`the target exited (${code}) before it was ready`)));
    });
    const r = cli(['report', '--pid', String(target.pid), '--json']);
    expect(r.pid).toBe(target.pid);
    expect(problems(r)).toEqual([]);
  });

  itUnless(SCAN_REASON_HERE, 'report --pid PID --bloat --json, and collapse --pid PID --dry-run --json (its plan)', () => {
    const r = cli(['report', '--pid', String(target!.pid), '--bloat', '--json']);
    expect(r.bloat).toMatchObject({ complete: true });
    expect(problems(r)).toEqual([]);
    const c = cli(['collapse', '--pid', String(target!.pid), '--dry-run', '--json']);
    expect(c).toMatchObject({ kind: 'collapse', dryRun: true, frames: [] });
    expect(c.plan.frames.length).toBeGreaterThan(0);
    expect(problems(c)).toEqual([]);
    const wrong = { ...c, plan: { ...c.plan, totals: { ...c.plan.totals, unshared: 1 } } };
    expect(problems(wrong).join('\n')).toMatch(/additional/);
  });

  it('report --json (the system)', () => {
    const r = cli(['report', '--json']);
    expect(r.kind).toBe('system');
    expect(problems(r)).toEqual([]);
  });

  it('lab --json (a small run)', () => {
    const r = cli(['lab', '--ops', '400', '--arena', '64M', '--json'], 120000);
    expect(r.kind).toBe('lab');
    expect(r.runs).toHaveLength(2);
    expect(problems(r)).toEqual([]);
  }, 120000);
});
