/**
 * A backup from the tree as a plain snapshot file for the snapshot commands (Restore
 * Snapshot…): a local backup is its own file; a remote one is fetched first by the engine's
 * `fetchBackup` (checked against its recorded SHA-256 and by the snapshot reader) into a fresh
 * 0700 temp folder, as a 0600 file. The age identity is asked for only when the object is
 * encrypted. The AWS SDK and the engine load here, on first use.
 */
import { promises as fs } from 'fs';
import { tmpdir } from 'os';
import { join } from 'path';
import * as vscode from 'vscode';
import type { AgeIdentity, BackupPlan } from '../core/backup';
import { EtcdBackupError } from '../core/errors';
import { BackupNode } from '../views/backupNodes';
import { cancelled, CommandDeps, withCancellableProgress } from './common';

export interface RemoteBackupAnswers {
  /** The age identity file that decrypts an encrypted remote backup. */
  identityFile?: string;
}

/** A remote backup named without a tree node (tests, links): `{ plan: "/etc/etcd-backup/prod.yaml", backup: "prod-2026…" }`. */
function namedBackup(target: unknown): { plan: string; backup: string } | undefined {
  const t = target as { plan?: unknown; backup?: unknown } | undefined;
  if (!t || typeof t !== 'object' || typeof t.plan !== 'string' || typeof t.backup !== 'string') return undefined;
  return { plan: t.plan, backup: t.backup };
}

/** The snapshot file for a backup node (fetching a remote one); undefined for any other target. */
export async function snapshotOfBackup(
  target: unknown,
  answers: RemoteBackupAnswers | undefined,
  deps: CommandDeps,
): Promise<string | undefined> {
  const named = namedBackup(target);
  if (!(target instanceof BackupNode) && !named) return undefined;
  const core = await import('../core/backup');
  let plan: BackupPlan | undefined;
  let name: string;
  let encrypted: boolean;
  if (target instanceof BackupNode) {
    const b = target.backup;
    if (b.where === 'local') return b.file;
    plan = target.parent.plan;
    name = b.name;
    encrypted = /\.age$/.test(b.object ?? b.metadata.object);
  } else {
    plan = await core.loadPlan((named as { plan: string }).plan);
    name = (named as { backup: string }).backup;
    encrypted = Boolean(plan.encrypt);
  }
  if (!plan) throw new EtcdBackupError('invalidInput', 'The plan of this backup cannot be read: fix it first.');
  let identities: AgeIdentity[] | undefined;
  if (encrypted) {
    const file = answers
      ? answers.identityFile
      : (
          await vscode.window.showOpenDialog({
            title: `${name} is encrypted: choose the age identity file that decrypts it`,
            canSelectMany: false,
            openLabel: 'Decrypt with This Identity',
          })
        )?.[0]?.fsPath;
    if (!file) {
      if (answers) {
        throw new EtcdBackupError('invalidInput', `${name} is encrypted: give the age identity file that decrypts it ({ identityFile }).`);
      }
      cancelled();
    }
    identities = core.parseIdentities(await fs.readFile(file, 'utf8'), file);
  }
  const dir = await fs.mkdtemp(join(tmpdir(), 'etcd-backup-fetch-'));
  await fs.chmod(dir, 0o700);
  const out = join(dir, `${name}.db`);
  try {
    const r = await withCancellableProgress(`Fetching ${name}`, ({ signal, report }) =>
      core.fetchBackup(plan as BackupPlan, { name, from: 'remote', out, identities, signal, log: (line) => report(line) }),
    );
    await fs.chmod(r.file, 0o600);
    deps.log.info(`Fetched ${name} to ${r.file} (${r.size} bytes, sha256 ${r.sha256})`);
    return r.file;
  } catch (err) {
    await fs.rm(dir, { recursive: true, force: true }).catch(() => undefined);
    throw err;
  }
}
