/**
 * Stand-ins for the restore tool (small shell scripts given as the etcdutl path), a snapshot
 * file made from a real one etcd wrote, and a listing of a folder to compare the disk before and
 * after a refusal. Used by the unit tests of src/core/restore.
 */
import { createHash } from 'crypto';
import { chmodSync, lstatSync, readdirSync, writeFileSync } from 'fs';
import { join } from 'path';
import type { RestoreTool } from '../../src/core/tools';
import { dbImage, FIXTURE_DIR } from './snapshotData';

/** A streamed snapshot (test/fixtures/snapshots/<name>, written by etcd): its database, then the SHA-256 trailer. */
export function fakeSnapshot(path: string, opts: { trailer?: boolean; corrupt?: boolean; fixture?: string } = {}): void {
  const db = dbImage(join(FIXTURE_DIR, opts.fixture ?? 'tiny.db'));
  const digest = createHash('sha256').update(db).digest();
  if (opts.corrupt) db[5000] ^= 0xff;
  writeFileSync(path, opts.trailer === false ? db : Buffer.concat([db, digest]));
}

export function script(path: string, body: string): string {
  writeFileSync(path, `#!/bin/sh\n${body}\n`);
  chmodSync(path, 0o755);
  return path;
}

/** The `--data-dir=` the tool was given, in `$d`, and the snapshot in `$snap`. */
export const ARGS = `snap="$3"; for a in "$@"; do case "$a" in --data-dir=*) d="\${a#--data-dir=}";; esac; done`;

/** Lays out a data dir as etcdutl does: the snapshot's database (trailer cut off) and a WAL file. */
export const LAYOUT = `${ARGS}
[ -e "$d" ] && { echo "Error: data-dir \\"$d\\" exists" >&2; exit 1; }
mkdir -p "$d/member/snap" "$d/member/wal" || exit 1
if [ $(( $(stat -c %s "$snap") % 512 )) -eq 32 ]; then head -c -32 "$snap" > "$d/member/snap/db"; else cp "$snap" "$d/member/snap/db"; fi
echo wal > "$d/member/wal/0000000000000000-0000000000000000.wal"`;

export function standInTool(path: string, kind: 'etcdutl' | 'etcdctl' = 'etcdutl', version = '3.5.12'): RestoreTool {
  return { kind, path, version, fromSetting: false, env: kind === 'etcdctl' ? { ETCDCTL_API: '3' } : {}, canBumpRevision: kind === 'etcdutl' };
}

/** Every path under `dir` with its kind and size, sorted (to compare the disk before and after). */
export function listing(dir: string): string[] {
  const out: string[] = [];
  const walk = (d: string, rel: string): void => {
    for (const e of readdirSync(d, { withFileTypes: true })) {
      const r = rel ? `${rel}/${e.name}` : e.name;
      const st = lstatSync(join(d, e.name));
      out.push(`${r} ${e.isSymbolicLink() ? 'link' : e.isDirectory() ? 'dir' : st.size}`);
      if (e.isDirectory()) walk(join(d, e.name), r);
    }
  };
  walk(dir, '');
  return out.sort();
}
