/**
 * The stored restore plan: the one `--initial-cluster-token`, the members with their peer URLs,
 * the snapshot (path and SHA-256) and which members are restored already, kept in a 0600 JSON
 * file beside the snapshot (or in the temp dir when that folder is read-only) so that running
 * the restore again (a second member on this machine, a retry after a failure) reuses the same
 * token instead of making a new one, which would split the cluster. The file is created without
 * ever replacing one (link), updated by temp + rename, and moved to a `.finished-<time>` /
 * `.abandoned-<time>` name when the restore is finished or abandoned: only an open plan is reused.
 */
import { createHash } from 'crypto';
import { promises as fs } from 'fs';
import * as os from 'os';
import { basename, dirname, join } from 'path';
import { EtcdBackupError } from '../errors';
import { readRegularFile } from '../fsSafe';
import { createExclusive, linkNoReplace, openRegularForReading, tempNameFor } from '../snapshot/files';
import { MemberRestoreFlags, memberFlags, PlannedMember, PlanSource, validatePlan } from './plan';
import { timestamp } from './runbook';

/** One member restored already (where, when, by whom). */
export interface RestoredMemberRecord {
  dataDir: string;
  /** The data dir it replaced (equal to `dataDir` when restored in place). */
  oldDataDir?: string;
  movedAside?: string;
  /** ISO time. */
  at: string;
  /** user@host that ran it. */
  by?: string;
}

export interface StoredRestorePlan {
  version: 1;
  snapshotPath: string;
  snapshotSha256: string;
  /** ISO time the plan was made. */
  createdAt: string;
  initialClusterToken: string;
  members: PlannedMember[];
  source: PlanSource;
  /** Members restored already, by name. */
  done: Record<string, RestoredMemberRecord>;
  /** `--bump-revision` / `--mark-compacted`: every member must be restored with the same ones. */
  bumpRevision?: number;
  markCompacted?: boolean;
}

/** The file a plan for this snapshot content lives in, beside the snapshot and in the temp dir. */
export function planFilePaths(snapshot: string, sha256: string): string[] {
  const name = `${basename(snapshot).replace(/\.db$/i, '')}.restore-plan-${sha256.slice(0, 12)}.json`;
  return [join(dirname(snapshot), name), join(os.tmpdir(), `etcd-${name}`)];
}

function planProblem(file: string, what: string): EtcdBackupError {
  return new EtcdBackupError('invalidInput', `${file} is not a restore plan this tool wrote (${what}): give the plan file, or plan anew.`);
}

/** Parse and check a plan file's text. */
export function parsePlan(text: string, file: string): StoredRestorePlan {
  let raw: unknown;
  try {
    raw = JSON.parse(text);
  } catch {
    throw planProblem(file, 'not JSON');
  }
  const p = raw as Partial<StoredRestorePlan>;
  if (!p || typeof p !== 'object' || p.version !== 1) throw planProblem(file, 'no "version": 1');
  if (typeof p.snapshotSha256 !== 'string' || !/^[0-9a-f]{64}$/.test(p.snapshotSha256)) throw planProblem(file, 'no snapshot SHA-256');
  if (typeof p.initialClusterToken !== 'string' || !Array.isArray(p.members)) throw planProblem(file, 'no token or members');
  const members = p.members.map((m) => ({
    name: String(m?.name ?? ''),
    peerURLs: Array.isArray(m?.peerURLs) ? m.peerURLs.map(String) : [],
    ...(Array.isArray(m?.clientURLs) ? { clientURLs: m.clientURLs.map(String) } : {}),
  }));
  const problems = validatePlan({ members, initialClusterToken: p.initialClusterToken });
  if (problems.length) throw planProblem(file, problems[0]);
  const done: Record<string, RestoredMemberRecord> = {};
  for (const [name, r] of Object.entries(p.done && typeof p.done === 'object' ? p.done : {})) {
    if (members.some((m) => m.name === name) && typeof r?.dataDir === 'string') {
      done[name] = { dataDir: r.dataDir, oldDataDir: r.oldDataDir, movedAside: r.movedAside, at: String(r.at ?? ''), by: r.by };
    }
  }
  return {
    version: 1,
    snapshotPath: String(p.snapshotPath ?? ''),
    snapshotSha256: p.snapshotSha256,
    createdAt: String(p.createdAt ?? ''),
    initialClusterToken: p.initialClusterToken,
    members,
    source: p.source === 'sidecar' || p.source === 'snapshot' ? p.source : 'manual',
    done,
    ...(Number.isSafeInteger(p.bumpRevision) && (p.bumpRevision as number) > 0 ? { bumpRevision: p.bumpRevision } : {}),
    ...(p.markCompacted === true ? { markCompacted: true } : {}),
  };
}

/** Read a plan file; refuse one made for another snapshot (its SHA-256 differs) with a sentence. */
export async function readPlanFile(file: string, sha256?: string): Promise<StoredRestorePlan> {
  const plan = parsePlan(await readRegularFile(file), file);
  if (sha256 && plan.snapshotSha256 !== sha256) {
    throw new EtcdBackupError(
      'conflict',
      `The restore plan ${file} is for another snapshot (SHA-256 ${plan.snapshotSha256.slice(0, 12)}…, this file is ` +
        `${sha256.slice(0, 12)}…): every member must be restored from the same file. Use that snapshot, or plan anew.`,
    );
  }
  return plan;
}

/** The open plan for this snapshot content, if one was stored. */
export async function findOpenPlan(snapshot: string, sha256: string): Promise<{ file: string; plan: StoredRestorePlan } | undefined> {
  for (const file of planFilePaths(snapshot, sha256)) {
    const st = await fs.lstat(file).catch(() => undefined);
    if (st?.isFile()) return { file, plan: await readPlanFile(file, sha256) };
  }
  return undefined;
}

/** Open plans beside the snapshot for another content of the same file name (never reused for this one; named to the user). */
export async function otherOpenPlans(snapshot: string, sha256: string): Promise<string[]> {
  const mine = basename(planFilePaths(snapshot, sha256)[0]);
  const stem = mine.replace(/-[0-9a-f]{12}\.json$/, '');
  const names = await fs.readdir(dirname(snapshot)).catch(() => [] as string[]);
  return names
    .filter((n) => n !== mine && n.startsWith(`${stem}-`) && /^-[0-9a-f]{12}\.json$/.test(n.slice(stem.length)))
    .map((n) => join(dirname(snapshot), n));
}

async function writeTemp(final: string, plan: StoredRestorePlan): Promise<string> {
  const temp = tempNameFor(final, 'tmp', { hidden: true });
  const fh = await createExclusive(temp);
  try {
    await fh.writeFile(`${JSON.stringify(plan, null, 2)}\n`);
    await fh.sync();
  } finally {
    await fh.close();
  }
  return temp;
}

/**
 * Store a new plan (never replacing a file: when another run stored one first, that one is
 * returned and must be used). Beside the snapshot, or in the temp dir when that folder refuses.
 */
export async function createPlanFile(snapshot: string, plan: StoredRestorePlan): Promise<{ file: string; plan: StoredRestorePlan }> {
  let lastErr: unknown;
  for (const file of planFilePaths(snapshot, plan.snapshotSha256)) {
    let temp: string | undefined;
    try {
      temp = await writeTemp(file, plan);
      await linkNoReplace(temp, file, `${file} exists`);
      return { file, plan };
    } catch (err) {
      if (temp) await fs.rm(temp, { force: true });
      if (err instanceof EtcdBackupError && err.kind === 'conflict') return { file, plan: await readPlanFile(file, plan.snapshotSha256) };
      lastErr = err;
    }
  }
  throw lastErr;
}

/** Rewrite an open plan (temp + rename: readers see the old or the new file, never half). */
export async function updatePlanFile(file: string, plan: StoredRestorePlan): Promise<void> {
  const temp = await writeTemp(file, plan);
  try {
    await fs.rename(temp, file);
  } catch (err) {
    await fs.rm(temp, { force: true });
    throw err;
  }
}

/** Record a member as restored; a plan whose members are all restored is closed as finished. */
export async function markMemberDone(
  file: string,
  plan: StoredRestorePlan,
  name: string,
  r: RestoredMemberRecord,
): Promise<StoredRestorePlan> {
  const next = { ...plan, done: { ...plan.done, [name]: r } };
  await updatePlanFile(file, next);
  if (next.members.every((m) => next.done[m.name])) await closePlanFile(file, 'finished');
  return next;
}

/** Close a plan (finished or abandoned): renamed to `<file>.<how>-<time>`, kept for the record, never reused. */
export async function closePlanFile(file: string, how: 'finished' | 'abandoned', now: Date = new Date()): Promise<string> {
  const target = `${file.replace(/\.json$/, '')}.${how}-${timestamp(now)}-p${process.pid}.json`;
  await fs.rename(file, target);
  return target;
}

/**
 * The restore flags of one member from a stored plan (for a command line's `--plan FILE`):
 * refused when the plan is for another snapshot, or does not name the member.
 */
export async function flagsFromPlanFile(file: string, snapshotSha256: string, name: string): Promise<MemberRestoreFlags> {
  const plan = await readPlanFile(file, snapshotSha256);
  if (!plan.members.some((m) => m.name === name)) {
    throw new EtcdBackupError(
      'invalidInput',
      `The restore plan ${file} has no member "${name}" (it has ${plan.members.map((m) => `"${m.name}"`).join(', ')}).`,
    );
  }
  return memberFlags(plan, name);
}

/** The SHA-256 of a file's content (the key a stored plan is found and checked by). */
export async function fileSha256(file: string): Promise<string> {
  const h = createHash('sha256');
  const fh = await openRegularForReading(file);
  try {
    for await (const b of fh.createReadStream({ highWaterMark: 1024 * 1024 })) h.update(b as Buffer);
  } finally {
    await fh.close().catch(() => undefined);
  }
  return h.digest('hex');
}

/** `user@host` for the record of who restored a member. */
export function whoAmI(): string {
  let user = 'unknown';
  try {
    user = os.userInfo().username;
  } catch {
    // no passwd entry (a container running as an arbitrary uid)
  }
  return `${user}@${os.hostname()}`;
}
