/**
 * The order of a snapshot comparison: older → newer by revision, whatever was given first.
 * Reversing a diff swaps its ends, added ↔ removed (counts, prefixes, samples) and negates the
 * byte deltas; "changed" and "unchanged" stay.
 */
import type { SnapshotDiff } from './inspect';

/** The same comparison read the other way (b → a). */
export function reverseDiff(d: SnapshotDiff): SnapshotDiff {
  return {
    a: d.b,
    b: d.a,
    added: d.removed,
    removed: d.added,
    changed: d.changed,
    unchanged: d.unchanged,
    prefixes: d.prefixes.map((p) => ({ ...p, added: p.removed, removed: p.added, bytesDelta: -p.bytesDelta })),
    samples: { added: d.samples.removed, removed: d.samples.added, changed: d.samples.changed },
  };
}

/**
 * `d` ordered older → newer (by revision; equal revisions keep the given order), or
 * newer → older when `newerFirst`. `swapped`: the result reads the other way than `d`.
 */
export function orderDiff(d: SnapshotDiff, newerFirst = false): { diff: SnapshotDiff; swapped: boolean } {
  const olderFirst = d.a.revision <= d.b.revision;
  const swapped = newerFirst ? olderFirst && d.a.revision !== d.b.revision : !olderFirst;
  return { diff: swapped ? reverseDiff(d) : d, swapped };
}
