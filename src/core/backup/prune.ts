/**
 * Prune a plan's backups by its `keep` rules, local and remote separately (retention.ts). Only
 * backups the catalog recognises as ours are considered (catalog.ts); the newest good backup
 * always stays. Locally a backup goes with its sidecar (the snapshot first, so a half-pruned
 * backup is never a sidecar pointing at nothing that still looks good); remotely the data
 * object goes before its metadata object.
 */
import { promises as fs } from 'fs';
import { EtcdBackupError, explain } from '../errors';
import { listLocal, listRemote, LocalBackup, parseBackupFileName, RemoteBackup } from './catalog';
import type { BackupPlan } from './plan';
import { applyRetention, RetentionDecision } from './retention';
import type { ObjectStore } from './store';

export interface PruneEntry {
  name: string;
  time: string;
  good: boolean;
  reasons: string[];
}

export interface PruneReport {
  where: 'local' | 'remote';
  /** Removed (or, in a dry run, to be removed). */
  removed: PruneEntry[];
  kept: PruneEntry[];
  /** Names in the folder or under the prefix that are not this plan's: never touched. */
  foreign?: string[];
  /** A sentence when the prune could not finish. */
  error?: string;
  /** Remote only: this plan's multipart uploads that a run left unfinished (it died mid-upload). */
  unfinished?: UnfinishedReport;
}

export interface UnfinishedReport {
  /** Aborted (or, in a dry run, to be aborted): started over {@link UNFINISHED_AFTER_HOURS} h ago. */
  aborted: string[];
  /** Younger ones: a run elsewhere may still be sending them. */
  left: string[];
  /** Why nothing was looked at or aborted (the store does not list unfinished uploads, or failed to). */
  note?: string;
}

/**
 * An unfinished multipart upload of this plan is aborted once it is this old: no run takes a day,
 * and a run of the same plan on another machine may be uploading right now (the lock is per
 * machine). AWS's lifecycle rule for the same (AbortIncompleteMultipartUpload) counts in days too.
 */
export const UNFINISHED_AFTER_HOURS = 24;

export interface PruneOptions {
  now?: Date;
  dryRun?: boolean;
}

function entry<T extends LocalBackup | RemoteBackup>(d: RetentionDecision<T>): PruneEntry {
  return { name: d.item.name, time: d.item.time.toISOString(), good: d.item.good, reasons: d.reasons };
}

/** Prune the local folder. */
export async function pruneLocal(plan: BackupPlan, opts: PruneOptions = {}): Promise<PruneReport> {
  const { backups, foreign } = await listLocal(plan);
  const decisions = applyRetention(backups, plan.local.keep, opts.now);
  const report: PruneReport = { where: 'local', removed: [], kept: [], foreign };
  for (const d of decisions) {
    if (d.keep) {
      report.kept.push(entry(d));
      continue;
    }
    if (!opts.dryRun) {
      try {
        await fs.rm(d.item.file);
        await fs.rm(d.item.sidecarFile, { force: true });
      } catch (err) {
        report.error = `Could not remove ${d.item.file}: ${explain(err).message}`;
        break;
      }
    }
    report.removed.push(entry(d));
  }
  return report;
}

/** Prune the remote prefix. */
export async function pruneRemote(plan: BackupPlan, store: ObjectStore, opts: PruneOptions = {}): Promise<PruneReport> {
  if (!plan.remote) throw new EtcdBackupError('invalidInput', 'The plan has no remote destination.');
  const { backups, foreign } = await listRemote(plan, store);
  const decisions = applyRetention(backups, plan.remote.keep, opts.now);
  const report: PruneReport = { where: 'remote', removed: [], kept: [], foreign };
  for (const d of decisions) {
    if (d.keep) {
      report.kept.push(entry(d));
      continue;
    }
    if (!opts.dryRun) {
      try {
        if (d.item.object) await store.remove(d.item.object);
        await store.remove(d.item.metadataObject);
      } catch (err) {
        report.error = explain(err).message;
        break;
      }
    }
    report.removed.push(entry(d));
  }
  report.unfinished = await abortUnfinished(plan, store, opts);
  return report;
}

/**
 * Abort this plan's multipart uploads left unfinished by a run that died mid-upload (their parts
 * cost storage and never become an object). Only names this plan makes are considered, and only
 * uploads started over {@link UNFINISHED_AFTER_HOURS} hours ago; anything else is never touched.
 */
async function abortUnfinished(plan: BackupPlan, store: ObjectStore, opts: PruneOptions): Promise<UnfinishedReport> {
  const report: UnfinishedReport = { aborted: [], left: [] };
  if (!store.listUnfinished || !store.abortUnfinished) return { ...report, note: 'this store does not list unfinished uploads' };
  try {
    const all = await store.listUnfinished();
    if (all === 'unsupported') return { ...report, note: 'the store does not list unfinished uploads (ListMultipartUploads)' };
    const cutoff = (opts.now ?? new Date()).getTime() - UNFINISHED_AFTER_HOURS * 3600_000;
    for (const u of all.filter((x) => parseBackupFileName(plan, x.name))) {
      if (!u.initiated || u.initiated.getTime() > cutoff) {
        report.left.push(u.name);
        continue;
      }
      if (!opts.dryRun) await store.abortUnfinished(u);
      report.aborted.push(u.name);
    }
  } catch (err) {
    report.note = explain(err).message;
  }
  return report;
}
