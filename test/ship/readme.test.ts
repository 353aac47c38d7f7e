/**
 * The README a stranger follows: its options tables say what each command's `--help` says, and
 * every relative link in README.md and docs/*.md reaches a file tracked in this repository (so
 * it resolves in a fresh clone), with a `#fragment` naming a heading that exists.
 * Invariant: the comparison is by option name both ways — an option the help lists and the
 * table lacks fails, and so does one the table lists that the command no longer has.
 */
import { spawnSync } from 'node:child_process';
import * as fs from 'node:fs';
import * as path from 'node:path';

const ROOT = path.join(__dirname, '..', '..');
const CLI = path.join(ROOT, 'dist', 'cli', 'main.js');
const README = fs.readFileSync(path.join(ROOT, 'README.md'), 'utf8');

function help(args: string[]): string {
  const r = spawnSync(process.execPath, [CLI, ...args, '--help'], { encoding: 'utf8', timeout: 30000, env: { ...process.env, NO_COLOR: '1' } });
  if (r.status !== 0) throw new Error(`hugespan ${args.join(' ')} --help exited ${r.status}: ${r.stderr}`);
  return r.stdout;
}

/** Every long option a help text names, in its usage line or its option lines. */
function optionsInHelp(text: string): string[] {
  return [...new Set(text.match(/(?<![\w-])--[a-z][a-z-]*/g) ?? [])].sort();
}

/**
 * The options `hugespan --help` defines: the left column of its two-space-indented lines (its
 * command summaries and exit codes mention command options, which are not global ones).
 */
function optionsInGlobalHelp(text: string): string[] {
  const left = text.split('\n').filter((l) => /^  \S/.test(l)).map((l) => l.trim().split(/\s{2,}/)[0]);
  return optionsInHelp(left.join('\n'));
}

/**
 * The long options in the first column of the README table that follows `intro` (text in the
 * "### Options" section), up to the table's end.
 */
function optionsInTable(intro: string, readme = README): string[] {
  const section = readme.slice(readme.indexOf('### Options'));
  const at = section.indexOf(intro);
  if (at < 0) throw new Error(`README's Options section has no table introduced by "${intro}"`);
  const lines = section.slice(at).split('\n').slice(1);
  const start = lines.findIndex((l) => l.startsWith('|'));
  const rows: string[] = [];
  for (const line of lines.slice(start)) {
    if (!line.startsWith('|')) break;
    rows.push(line);
  }
  const names = rows.slice(2).flatMap((row) => row.split(/(?<!\\)\|/)[1].match(/(?<![\w-])--[a-z][a-z-]*/g) ?? []);
  return [...new Set(names)].sort();
}

describe('README options tables match --help', () => {
  it.each([
    ['report', '`hugespan report [--pid PID] …`:'],
    ['map', '`hugespan map --pid PID …`'],
    ['why', '`hugespan why --pid PID …`'],
    ['collapse', '`hugespan collapse --pid PID …`'],
    ['serve', '`hugespan serve …`'],
    ['lab', '`hugespan lab …`'],
  ])('hugespan %s', (command, intro) => {
    const fromHelp = optionsInHelp(help([command]));
    expect(fromHelp.length).toBeGreaterThan(0);
    expect(optionsInTable(intro)).toEqual(fromHelp);
  });

  it('the options of every command (hugespan --help)', () => {
    expect(optionsInTable('Every command:')).toEqual(optionsInGlobalHelp(help([])));
  });

  it('the comparison sees a missing row (control)', () => {
    // The same parser over the README with map's --min-size row dropped must disagree with --help.
    const fromHelp = optionsInHelp(help(['map']));
    const row = README.split('\n').find((l) => l.startsWith('| `--min-size'));
    expect(row).toBeDefined();
    expect(optionsInTable('`hugespan map --pid PID …`', README.replace(`${row}\n`, ''))).not.toEqual(fromHelp);
    expect(optionsInHelp('usage: x [--a-b] [--c]\n  --d D  text --e-f')).toEqual(['--a-b', '--c', '--d', '--e-f']);
  });
});

// --- links ---

/** Files git tracks (what a fresh clone has); null outside a git checkout. */
function tracked(): Set<string> | null {
  const r = spawnSync('git', ['ls-files', '-z'], { cwd: ROOT, encoding: 'utf8' });
  if (r.status !== 0) return null;
  return new Set(r.stdout.split('\0').filter(Boolean));
}

/** GitHub's heading anchors: lower case, punctuation dropped, spaces to hyphens. */
function anchors(markdown: string): Set<string> {
  const out = new Set<string>();
  for (const m of markdown.matchAll(/^#{1,6}\s+(.+)$/gm)) {
    out.add(m[1].trim().toLowerCase().replace(/[^\p{L}\p{N} _-]/gu, '').replace(/ /g, '-'));
  }
  return out;
}

/** Markdown links and images outside code blocks and code spans: [text](target). */
function links(markdown: string): string[] {
  const prose = markdown.replace(/```[\s\S]*?```/g, '').replace(/`[^`\n]*`/g, '');
  return [...prose.matchAll(/!?\[[^\]]*\]\(([^)\s]+)(?:\s+"[^"]*")?\)/g)].map((m) => m[1]);
}

const DOCS = ['README.md', ...fs.readdirSync(path.join(ROOT, 'docs')).filter((f) => f.endsWith('.md')).map((f) => `docs/${f}`)];
const files = tracked();
if (!files) console.log('readme.test: not a git checkout, so links are checked against the files on disk, not the tracked ones');

describe('every relative link resolves inside the repository', () => {
  it.each(DOCS)('%s', (doc) => {
    const text = fs.readFileSync(path.join(ROOT, doc), 'utf8');
    const bad: string[] = [];
    let relative = 0;
    for (const target of links(text)) {
      if (/^[a-z][a-z0-9+.-]*:/i.test(target)) continue; // https:, mailto: — not files
      relative++;
      const [file, fragment] = target.split('#');
      const resolved = file === '' ? doc : path.posix.normalize(path.posix.join(path.posix.dirname(doc), file));
      if (resolved.startsWith('../') || path.posix.isAbsolute(resolved)) {
        bad.push(`${target}: outside the repository`);
        continue;
      }
      const exists = files ? files.has(resolved) || [...files].some((f) => f.startsWith(`${resolved}/`)) : fs.existsSync(path.join(ROOT, resolved));
      if (!exists) {
        bad.push(`${target}: ${resolved} is not ${files ? 'tracked in git' : 'a file here'}`);
        continue;
      }
      if (fragment && resolved.endsWith('.md') && !anchors(fs.readFileSync(path.join(ROOT, resolved), 'utf8')).has(fragment)) {
        bad.push(`${target}: ${resolved} has no heading #${fragment}`);
      }
    }
    expect(bad).toEqual([]);
    if (doc === 'README.md') expect(relative).toBeGreaterThan(3);
  });

  it('the checker rejects what it should (control)', () => {
    expect(links('[a](../shared/x.md) `[b](no.md)` [c](https://x) ![d](img.png "t")')).toEqual(['../shared/x.md', 'https://x', 'img.png']);
    expect(anchors('## The CLI\n### Building from source\n## What `npm start` shows')).toEqual(new Set(['the-cli', 'building-from-source', 'what-npm-start-shows']));
  });
});
