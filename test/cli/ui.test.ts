/**
 * The terminal helpers every command (lab too) builds on: sizes in and out, aligned tables
 * whatever the colour, colour only where wanted, a progress bar only on a terminal.
 */
import { parseBytes, parseNumber, formatBytes, formatPercent, renderTable, wrapItems, colorEnabled, palette, progressBar, CliError, UsageError } from '../../src/cli/ui';
import { MiB } from '../support/thp';

/** A stand-in for process.stdout/stderr: records writes, a TTY or not. */
function stream(isTTY: boolean): NodeJS.WriteStream & { written: string } {
  const s = { isTTY, columns: 100, written: '', write: (t: string) => ((s.written += t), true) };
  return s as unknown as NodeJS.WriteStream & { written: string };
}

function withEnv(env: Record<string, string | undefined>, fn: () => void): void {
  const saved = Object.fromEntries(Object.keys(env).map((k) => [k, process.env[k]]));
  const set = (vars: Record<string, string | undefined>) => {
    for (const [k, v] of Object.entries(vars)) {
      if (v === undefined) delete process.env[k];
      else process.env[k] = v;
    }
  };
  set(env);
  try {
    fn();
  } finally {
    set(saved);
  }
}

describe('sizes', () => {
  it.each([
    ['4M', 4 * MiB],
    ['2MiB', 2 * MiB],
    ['1G', 1024 * MiB],
    ['1.5g', 1536 * MiB],
    ['512k', 512 * 1024],
    ['64KB', 64 * 1024],
    ['65536', 65536],
  ])('parseBytes(%j) = %d', (text, bytes) => expect(parseBytes(text, '--size')).toBe(bytes));

  it.each(['4Q', '', '-1', 'M', '1e3', '4 M B'])('parseBytes(%j) is a usage error', (text) => {
    expect(() => parseBytes(text, '--size')).toThrow(UsageError);
  });

  it('formatBytes: binary units, one decimal above bytes', () => {
    expect([0, 512, 4096, 32 * MiB, 1536 * MiB].map(formatBytes)).toEqual(['0 B', '512 B', '4.0 KiB', '32.0 MiB', '1.5 GiB']);
  });

  it('formatPercent: one decimal; nothing to measure is "-"', () => {
    expect([1, 0.731, 0, undefined].map(formatPercent)).toEqual(['100.0%', '73.1%', '0.0%', '-']);
  });

  it('errors carry a code: usage errors one of their own, others theirs or the CLI default', () => {
    expect(new UsageError('x').code).toBe('ERR_HUGESPAN_USAGE');
    expect(new CliError('x').code).toBe('ERR_HUGESPAN_CLI');
    expect(new CliError('x', { code: 'ERR_HUGESPAN_OUTPUT', cause: 1 })).toMatchObject({ code: 'ERR_HUGESPAN_OUTPUT', cause: 1 });
  });

  it('parseNumber checks range and integrality', () => {
    expect(parseNumber('0.5', '--r', { min: 0, max: 1 })).toBe(0.5);
    expect(() => parseNumber('1.5', '--r', { min: 0, max: 1 })).toThrow("--r wants a number from 0 to 1, not '1.5'");
    expect(() => parseNumber('2.5', '--n', { integer: true })).toThrow("--n wants an integer, not '2.5'");
  });
});

describe('tables and wrapping', () => {
  it('aligns columns, numbers right, colour codes take no room, no trailing spaces', () => {
    const p = palette(true);
    const text = renderTable(
      [{ title: 'name' }, { title: 'bytes', align: 'right' }, { title: 'note' }],
      [
        ['a', p.green('1 B'), ''],
        ['longer', '100 B', 'x'],
      ],
    );
    const plain = text.replace(/\x1b\[\d+m/g, '');
    expect(plain.split('\n')).toEqual(['name    bytes  note', 'a         1 B', 'longer  100 B  x']);
  });

  it('header: false leaves the titles out of the widths too', () => {
    expect(renderTable([{ title: 'a very long title' }, { title: '' }], [['x', 'y']], { header: false })).toBe('x  y');
  });

  it('wrapItems fills lines up to the width', () => {
    expect(wrapItems(['aaaa', 'bbbb', 'cccc'], 10)).toEqual(['aaaa  bbbb', 'cccc']);
  });
});

describe('colour and progress', () => {
  it('colour: on a TTY unless NO_COLOR; FORCE_COLOR forces it (0 refuses it)', () => {
    withEnv({ NO_COLOR: undefined, FORCE_COLOR: undefined }, () => {
      expect(colorEnabled(stream(true))).toBe(true);
      expect(colorEnabled(stream(false))).toBe(false);
    });
    withEnv({ NO_COLOR: '1', FORCE_COLOR: undefined }, () => expect(colorEnabled(stream(true))).toBe(false));
    withEnv({ NO_COLOR: '', FORCE_COLOR: undefined }, () => expect(colorEnabled(stream(true))).toBe(true));
    withEnv({ NO_COLOR: undefined, FORCE_COLOR: '1' }, () => expect(colorEnabled(stream(false))).toBe(true));
    withEnv({ NO_COLOR: undefined, FORCE_COLOR: '0' }, () => expect(colorEnabled(stream(true))).toBe(false));
    expect(palette(false).red('x')).toBe('x');
  });

  it('the progress bar draws on a TTY only, and erases itself', () => {
    const piped = stream(false);
    const bar = progressBar('lab', 10, piped);
    bar.update(5);
    bar.finish();
    expect(piped.written).toBe('');

    const tty = stream(true);
    const drawn = progressBar('lab', 10, tty);
    drawn.update(10, 'done');
    expect(tty.written).toMatch(/^\rlab █+ 100% done\x1b\[K$/);
    drawn.finish();
    expect(tty.written.endsWith('\r\x1b[K')).toBe(true);
  });
});
