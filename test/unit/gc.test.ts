import assert from 'assert';
import { constants, PerformanceObserver } from 'perf_hooks';
import { majorGc, minorGc } from '../../src/cli/gc';

/** The kinds of the collections `fn` runs (perf_hooks 'gc' entries). */
async function collections(fn: () => void): Promise<number[]> {
  const kinds: number[] = [];
  const obs = new PerformanceObserver((list) => {
    for (const e of list.getEntries()) kinds.push((e as unknown as { detail: { kind: number } }).detail.kind);
  });
  obs.observe({ entryTypes: ['gc'] });
  fn();
  await new Promise((r) => setTimeout(r, 50));
  obs.disconnect();
  return kinds;
}

describe('the CLI garbage collectors', function () {
  it("majorGc runs a full (mark-compact) collection, minorGc a scavenge (the follower's flat RSS relies on the first)", async function () {
    const major = majorGc();
    const minor = minorGc();
    assert.ok(major && minor, 'both are available');
    // Three calls, at least three full collections (one may happen by itself too, as in a loaded CI run; a scavenge
    // in place of a full collection, the Node 20 behaviour of gc({ type: 'major' }), leaves fewer than three).
    const kinds = await collections(() => [1, 2, 3].forEach(() => major()));
    const full = kinds.filter((k) => k === constants.NODE_PERFORMANCE_GC_MAJOR).length;
    assert.ok(full >= 3, `collections of kinds ${kinds.join(', ')}`);
    assert.ok((await collections(minor)).includes(constants.NODE_PERFORMANCE_GC_MINOR), 'a scavenge');
  });
});
