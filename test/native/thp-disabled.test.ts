/** A process with THP switched off (prctl PR_SET_THP_DISABLE) gets no huge page, and says why. */
import { runChild } from '../support/child';
import { hugePageSize } from '../../src/native/host';
import { itExact } from '../support/thp';

const H = hugePageSize() || 2 << 20;

describe('THP disabled for the process', () => {
  itExact('no huge page after hugepage + touch, collapse is refused, the reason is reported', () => {
    const r = runChild(`
      binding.setThpDisabled(true);
      const { hugePagesAvailable, thpDisabledFor } = require(${JSON.stringify(require.resolve('../../dist/native/host.js').replace(/\\/g, '/'))});
      const m = binding.map(${8 * H}, ${H}, true);
      binding.madvise(m, 0, ${8 * H}, 'hugepage');
      binding.touch(m, 0, ${8 * H});
      let collapse; try { binding.madvise(m, 0, ${8 * H}, 'collapse'); collapse = 'ok'; } catch (e) { collapse = e.code; }
      const scan = binding.pagemapScan('self', m.address, m.address + ${8 * H});
      const vma = readSmaps().find((v) => v.start <= m.address && m.address < v.end);
      console.log(JSON.stringify({ disabled: binding.thpDisabled(), status: thpDisabledFor('self'), avail: hugePagesAvailable(), collapse, huge: scan.hugeBytes, present: scan.presentBytes, anonHuge: vma.anonHugePages }));
    `);
    expect(r.stderr).toBe('');
    expect(r.json).toEqual({
      disabled: true,
      status: true,
      avail: { ok: false, reason: 'THP is disabled for this process (prctl PR_SET_THP_DISABLE)' },
      collapse: 'EINVAL',
      huge: 0,
      present: 8 * H,
      anonHuge: 0,
    });
  });
});
