/**
 * The check of a restored data dir before it is installed: a restore tool's exit status 0 is
 * not proof. `member/snap/db` must be there, open with the native reader (src/core/snapshot),
 * and hold the snapshot's revision and live key count; `member/wal` must hold a WAL file.
 */
import { promises as fs } from 'fs';
import { join } from 'path';
import { EtcdBackupError, explain } from '../errors';
import { snapshotKeyFigures } from '../snapshot/inspect';

export interface ExpectedFigures {
  revision: number;
  liveKeys: number;
}

export interface RestoredFigures extends ExpectedFigures {
  dbBytes: number;
  walFiles: number;
}

/**
 * Check `dir` (a restored data dir). `bumpRevision`: etcdutl --bump-revision adds that much to
 * the latest revision (one marker entry, not a key). Resolves with the figures; rejects with one
 * sentence saying what is missing or different.
 */
export async function checkRestoredDir(
  dir: string,
  expected: ExpectedFigures,
  opts: { tool: string; bumpRevision?: number; signal?: AbortSignal },
): Promise<RestoredFigures> {
  const db = join(dir, 'member', 'snap', 'db');
  const refuse = (what: string): never => {
    const tail = 'the restore did not produce a usable data dir, so nothing was installed or moved.';
    throw new EtcdBackupError('internal', `${opts.tool} exited with success, but ${what}: ${tail}`);
  };
  const st = await fs.stat(db).catch(() => undefined);
  if (!st?.isFile()) refuse(`it wrote no ${db}`);
  const wal = await fs.readdir(join(dir, 'member', 'wal')).catch(() => [] as string[]);
  const walFiles = wal.filter((n) => n.endsWith('.wal')).length;
  if (!walFiles) refuse(`it wrote no WAL file into ${join(dir, 'member', 'wal')}`);
  let got: ExpectedFigures;
  try {
    got = await snapshotKeyFigures(db, { signal: opts.signal });
  } catch (err) {
    const e = explain(err);
    if (e.kind === 'cancelled') throw e;
    return refuse(`the database it wrote cannot be read (${e.message})`);
  }
  const bump = opts.bumpRevision ?? 0;
  const top = expected.revision + bump;
  const revisionOk = bump ? got.revision >= expected.revision && got.revision <= top : got.revision === expected.revision;
  if (!revisionOk || got.liveKeys !== expected.liveKeys) {
    refuse(
      `the database it wrote holds revision ${got.revision} with ${got.liveKeys} keys ` +
        `where the snapshot holds revision ${expected.revision}${bump ? ` (+${bump} bumped)` : ''} with ${expected.liveKeys} keys`,
    );
  }
  return { revision: got.revision, liveKeys: got.liveKeys, dbBytes: (st as { size: number }).size, walFiles };
}
