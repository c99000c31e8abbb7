/**
 * "A point in time…" in Restore Snapshot…: for a cluster whose backup plan has `follow.enabled`,
 * the user gives a revision or a time inside the range the change log covers (checked as typed,
 * the range named), the engine materializes that point (the newest full snapshot at or before
 * it, the change log replayed on a throwaway etcd; src/core/pitr/materialize.ts) into a 0600
 * file in a fresh 0700 temp folder, under a cancellable progress notification, and the restore
 * goes on with that file. Before it does, the changes from the base full snapshot to the point
 * can be shown with Compare Snapshots' report. The engine loads here, on first use.
 */
import { promises as fs } from 'fs';
import { tmpdir } from 'os';
import { join } from 'path';
import * as vscode from 'vscode';
import type { AgeIdentity, BackupPlan } from '../core/backup';
import { EtcdBackupError, explain } from '../core/errors';
import type { Coverage, PointInTime } from '../core/pitr/coverage';
import type { MaterializeResult } from '../core/pitr/materialize';
import { Node } from '../views/nodes';
import { planPaths, readPlans } from '../views/backupNodes';
import { cancelled, CommandDeps, snapshotFileOf, withCancellableProgress } from './common';
import type { CompareResult } from './snapshots';

export interface PointInTimeAnswers {
  /** Restore the cluster as it was at a revision or time (the change log of a plan with follow enabled). */
  pointInTime?: {
    /** The plan file (default: the one plan of the cluster with follow enabled). */
    plan?: string;
    revision?: number;
    /** A time such as 2026-12-01T17:55:00Z: the last revision recorded at or before it. */
    time?: string;
    /** Open the changes from the base full snapshot to the point (Compare Snapshots' report) first. */
    showChanges?: boolean;
  };
  /** The age identity file, when the change log or the base snapshot is only in an encrypted remote. */
  identityFile?: string;
}

/** What the point-in-time step did, for the restore's log. */
type Note = (line: string) => void;

/** The plans with follow enabled for a cluster (every cluster's when no name is given). */
async function followPlans(deps: CommandDeps, cluster: string | undefined): Promise<BackupPlan[]> {
  const entries = await readPlans(await planPaths(deps.settings.backupPlanPaths()));
  return entries
    .map((e) => e.plan)
    .filter((p): p is BackupPlan => !!p && p.follow.enabled && (!cluster || p.cluster.name.toLowerCase() === cluster.toLowerCase()));
}

/** The cluster name a target names (a tree node under a cluster, or `{ cluster }`). */
function clusterNameOf(target: unknown): string | undefined {
  for (let n: Node | undefined = target instanceof Node ? target : undefined; n; n = n.parent) {
    const c = (n as unknown as { cluster?: { name?: unknown } }).cluster;
    if (c && typeof c.name === 'string') return c.name;
  }
  const name = target && typeof target === 'object' ? (target as { cluster?: unknown }).cluster : undefined;
  return typeof name === 'string' ? name : undefined;
}

/** Interactive: "A snapshot file…" or "A point in time…" of one of the plans; undefined for a file. */
async function choosePlan(plans: BackupPlan[]): Promise<BackupPlan | undefined> {
  type Item = vscode.QuickPickItem & { plan?: BackupPlan };
  const items: Item[] = [
    { label: '$(file) A snapshot file…', description: 'a snapshot or backup on disk' },
    ...plans.map((plan) => ({
      label: '$(history) A point in time…',
      description: `${plan.cluster.name}: a revision or time from the change log`,
      detail: plan.path,
      plan,
    })),
  ];
  const pick = await vscode.window.showQuickPick(items, { title: 'Restore what?', placeHolder: 'A snapshot file, or any recorded point' });
  if (!pick) cancelled();
  return pick.plan;
}

async function readIdentities(file: string): Promise<AgeIdentity[]> {
  const { parseIdentities } = await import('../core/backup');
  return parseIdentities(await fs.readFile(file, 'utf8'), file);
}

/** Ask for the point: an input box checked as typed, the range in its prompt. */
async function askPoint(c: Coverage): Promise<PointInTime> {
  const { checkPoint, coverageText } = await import('../core/pitr/coverage');
  const text = await vscode.window.showInputBox({
    title: 'Restore the cluster as it was at…',
    prompt: `A revision number, or a time (ISO 8601, e.g. 2026-12-01T17:55:00Z; without a zone: local time). Recorded: ${coverageText(c)}.`,
    placeHolder: `${c.toRevision}   or   ${new Date(c.toTime ?? Date.now()).toISOString()}`,
    ignoreFocusOut: true,
    validateInput: (v) => checkPoint(v, c).problem,
  });
  if (text === undefined) cancelled();
  return checkPoint(text, c).point as PointInTime;
}

function pointFromAnswers(
  a: NonNullable<PointInTimeAnswers['pointInTime']>,
  c: Coverage,
  check: typeof import('../core/pitr/coverage').checkPoint,
): PointInTime {
  if ((a.revision === undefined) === (a.time === undefined)) {
    throw new EtcdBackupError('invalidInput', 'Give exactly one of { revision } and { time } in pointInTime.');
  }
  const r = check(a.revision !== undefined ? String(a.revision) : String(a.time), c);
  if (!r.point) throw new EtcdBackupError('invalidInput', r.problem ?? 'The point in time is not valid.');
  return r.point;
}

/** Materialize `point` of `plan` into a 0600 file in a fresh 0700 temp folder. */
async function build(
  plan: BackupPlan,
  point: PointInTime,
  identities: AgeIdentity[] | undefined,
  deps: CommandDeps,
): Promise<MaterializeResult> {
  const { openPitrStores } = await import('../core/pitr/planStores');
  const { materialize } = await import('../core/pitr/materialize');
  const dir = await fs.mkdtemp(join(tmpdir(), 'etcd-backup-pitr-'));
  await fs.chmod(dir, 0o700);
  const what = 'revision' in point ? `revision ${point.revision}` : point.time.toISOString();
  const output = join(dir, `${plan.slug}-${'revision' in point ? `rev${point.revision}` : 'at-time'}.db`);
  const stores = await openPitrStores(plan, { identities, log: (l) => deps.log.info(`[point in time] ${l}`), needRemote: false });
  try {
    const r = await withCancellableProgress(`Building "${plan.cluster.name}" as it was at ${what}`, ({ signal, report }) =>
      materialize({
        segments: stores.segments,
        snapshots: stores.snapshots,
        ...('revision' in point ? { toRevision: point.revision } : { toTime: point.time }),
        output,
        toolPaths: deps.settings.toolPaths(),
        signal,
        onStep: (m) => {
          deps.log.info(`[point in time] ${m}`);
          report(m);
        },
      }),
    );
    await fs.chmod(r.file, 0o600);
    return r;
  } catch (err) {
    await fs.rm(dir, { recursive: true, force: true }).catch(() => undefined);
    throw err;
  } finally {
    stores.close();
  }
}

/** Compare Snapshots' report from the base full snapshot to the point (the base fetched first when remote only). */
async function showChanges(
  plan: BackupPlan,
  r: MaterializeResult,
  identities: AgeIdentity[] | undefined,
  preview: boolean,
): Promise<CompareResult> {
  const { openPitrStores } = await import('../core/pitr/planStores');
  const stores = await openPitrStores(plan, { identities, log: () => undefined, needRemote: false });
  try {
    const ref = (await stores.snapshots.list()).find((f) => f.name === r.base.name);
    if (!ref) throw new EtcdBackupError('notFound', `The base snapshot ${r.base.name} is no longer there: the changes cannot be shown.`);
    const base = await stores.snapshots.open(ref);
    try {
      return (await vscode.commands.executeCommand('etcdBackup.compareSnapshots', base.path, { other: r.file, preview })) as CompareResult;
    } finally {
      await base.done();
    }
  } finally {
    stores.close();
  }
}

/** Interactive: restore the point, or show the changes first (then ask again). */
async function confirmPoint(plan: BackupPlan, r: MaterializeResult, identities: AgeIdentity[] | undefined): Promise<void> {
  const detail =
    `${r.keys} keys at revision ${r.revision}${r.revisionTime ? ` (recorded ${new Date(r.revisionTime).toLocaleString()})` : ''}: ` +
    `${r.base.name} (revision ${r.base.revision}) + ${r.replayed.revisions} revisions replayed.` +
    (r.warnings.length ? `\n\n${r.warnings.join('\n')}` : '');
  for (let shown = false; ;) {
    const buttons = shown ? ['Continue Restore'] : ['Continue Restore', 'Show Changes from the Base'];
    const c = await vscode.window.showInformationMessage(
      `Restore "${plan.cluster.name}" as it was at revision ${r.revision}?`,
      { modal: true, detail },
      ...buttons,
    );
    if (c === 'Continue Restore') return;
    if (c !== 'Show Changes from the Base') cancelled();
    await showChanges(plan, r, identities, false);
    shown = true;
  }
}

/**
 * The snapshot file of a point in time when the restore is about one (answers' `pointInTime`, or
 * the user's choice for a cluster with a following plan); undefined when it is about a file.
 */
export async function pointInTimeSnapshot(
  target: unknown,
  answers: PointInTimeAnswers | undefined,
  deps: CommandDeps,
  note: Note,
): Promise<string | undefined> {
  if (snapshotFileOf(target) || (answers && !answers.pointInTime) || (answers as { snapshot?: unknown } | undefined)?.snapshot)
    return undefined;
  const cluster = clusterNameOf(target);
  const wanted = answers?.pointInTime?.plan;
  const { loadPlan } = await import('../core/backup');
  const plans = wanted ? [await loadPlan(wanted)] : await followPlans(deps, cluster);
  if (!answers && !plans.length) return undefined;
  const plan = answers ? plans[0] : await choosePlan(plans);
  if (!plan) {
    if (answers)
      throw new EtcdBackupError(
        'notFound',
        `No backup plan of "${cluster ?? 'any cluster'}" has follow.enabled: true, so no point in time can be restored. Give { plan }.`,
      );
    return undefined;
  }
  let identities = answers?.identityFile ? await readIdentities(answers.identityFile) : undefined;
  const core = await import('../core/pitr/coverage');
  const { openPitrStores } = await import('../core/pitr/planStores');
  const stores = await openPitrStores(plan, { log: () => undefined, needRemote: false });
  const covered = await core.coverage(stores.segments, stores.snapshots, stores.segments.local.dir).finally(() => stores.close());
  if (!covered)
    throw new EtcdBackupError(
      'notFound',
      `"${plan.cluster.name}" has no full snapshot yet: no point in time can be restored. Run a backup first.`,
    );
  const point = answers?.pointInTime ? pointFromAnswers(answers.pointInTime, covered, core.checkPoint) : await askPoint(covered);
  let r: MaterializeResult;
  try {
    r = await build(plan, point, identities, deps);
  } catch (err) {
    const e = explain(err);
    if (identities || e.kind !== 'invalidInput' || !/ is encrypted: /.test(e.message)) throw err;
    const what = e.message.split(' is encrypted: ')[0];
    if (answers) {
      throw new EtcdBackupError('invalidInput', `${what} is encrypted: give the age identity file that decrypts it ({ identityFile }).`);
    }
    const file = (
      await vscode.window.showOpenDialog({
        title: `${what} is encrypted: choose the age identity file that decrypts it`,
        canSelectMany: false,
        openLabel: 'Decrypt with This Identity',
      })
    )?.[0]?.fsPath;
    if (!file) cancelled();
    identities = await readIdentities(file);
    r = await build(plan, point, identities, deps);
  }
  note(
    `Point in time: revision ${r.revision} of "${plan.cluster.name}" built at ${r.file} (${r.keys} keys; ` +
      `${r.base.name} + ${r.replayed.revisions} revisions, checks ${r.checks.every((c) => c.ok) ? 'passed' : 'FAILED'}).`,
  );
  r.warnings.forEach((w) => note(`Warning: ${w}`));
  if (answers?.pointInTime?.showChanges) {
    const diff = await showChanges(plan, r, identities, true);
    note(`Changes from ${r.base.name}: ${diff.diff.added} added, ${diff.diff.removed} removed, ${diff.diff.changed} changed.`);
  } else if (!answers) {
    await confirmPoint(plan, r, identities);
  }
  return r.file;
}
