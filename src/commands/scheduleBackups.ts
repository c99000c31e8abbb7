/**
 * "Schedule Backups…" (`etcdBackup.scheduleBackups`, on a cluster): a short form (schedule,
 * local folder and how many to keep, an optional S3 bucket with its endpoint, prefix and access
 * key, age recipients) that becomes a backup plan file, the S3 credentials file, the password
 * file and the systemd service and timer. Everything is shown first as one diff (old against
 * new, secrets masked) and written only after the modal is confirmed: through a temp file and a
 * rename (never through an editor buffer, so `files.autoSave` cannot write early), plan and
 * secrets files 0600, units 0644. The S3 access key is kept in the secret storage.
 *
 * The units run `/usr/local/bin/etcd-backup` (the installed CLI), never a file inside VS Code's
 * own folders, so the schedule keeps working when VS Code is closed, updated or removed.
 *
 * "Edit Backup Plan" (`etcdBackup.editBackupPlan`, on a Backups node) opens the plan file.
 */
import { execFile } from 'child_process';
import { promises as fs } from 'fs';
import { dirname, join } from 'path';
import * as vscode from 'vscode';
import type { BackupPlan } from '../core/backup';
import { EtcdBackupError } from '../core/errors';
import type { ClusterConfig } from '../core/types';
import { SECTION } from '../settings';
import { BackupsNode, DEFAULT_PLAN_DIR } from '../views/backupNodes';
import { ClusterNode } from '../views/clustersView';
import { resolveCluster } from './clusters';
import { cancelled, CommandDeps, commandRegistrar } from './common';
import { installCli, InstallCliAnswers, InstallCliResult } from './installCli';

/** The installed CLI the units run (see "Install the CLI on This Machine"). */
export const INSTALLED_CLI = '/usr/local/bin/etcd-backup';

/** Answers for tests: nothing is asked for what they give. */
export interface ScheduleAnswers {
  schedule?: string;
  localDir?: string;
  keep?: number;
  /** Empty or absent: no remote copy. */
  bucket?: string;
  endpoint?: string;
  prefix?: string;
  remoteKeep?: number;
  accessKeyId?: string;
  secretAccessKey?: string;
  recipients?: string[];
  /** Where the plan goes (default /etc/etcd-backup/<slug>.yaml). */
  planFile?: string;
  /** Where the units go (default /etc/systemd/system). */
  unitDir?: string;
  /** ExecStart's first words (default the installed CLI). */
  cli?: string[];
  /** The modal's answer. */
  confirm?: boolean;
  /** The modal's "Install the CLI and Write Files" (offered when the CLI is missing or older). */
  installCli?: boolean;
  /** Look for and install the CLI under this root instead of / (tests). */
  installRoot?: string;
}

export interface ScheduleResult {
  planFile: string;
  /** Every file written (empty when the diff was not confirmed). */
  written: string[];
  /** The preview diff's two documents. */
  preview: { old: string; new: string };
  /** The CLI installed first ("Install the CLI and Write Files"). */
  installed?: InstallCliResult;
}

interface PlannedFile {
  path: string;
  text: string;
  mode: number;
  /** What the diff shows (secrets masked). */
  shown: string;
}

const PREVIEW_SCHEME = 'etcd-backup-preview';
const previews = new Map<string, string>();

async function ask(answers: ScheduleAnswers | undefined, key: keyof ScheduleAnswers, opts: vscode.InputBoxOptions): Promise<string> {
  if (answers) return String(answers[key] ?? opts.value ?? '');
  const v = await vscode.window.showInputBox({ ignoreFocusOut: true, ...opts });
  return v ?? cancelled();
}

/** The form: what the plan says. */
type FormValues = Required<Omit<ScheduleAnswers, 'confirm' | 'cli' | 'planFile' | 'unitDir' | 'installCli' | 'installRoot'>>;

async function form(cluster: ClusterConfig, deps: CommandDeps, answers: ScheduleAnswers | undefined): Promise<FormValues> {
  const slug = cluster.name.replace(/[^A-Za-z0-9._-]+/g, '-');
  const title = `Schedule Backups of "${cluster.name}"`;
  const schedule = await ask(answers, 'schedule', {
    title,
    prompt: 'When to back up: a systemd OnCalendar expression',
    value: '*-*-* 00/6:00:00',
  });
  const localDir = await ask(answers, 'localDir', {
    title,
    prompt: 'Local backup folder (absolute path)',
    value: `/var/backups/etcd/${slug}`,
  });
  const keep = Number(await ask(answers, 'keep', { title, prompt: 'How many local backups to keep', value: '5' }));
  const bucket = (await ask(answers, 'bucket', { title, prompt: 'S3 bucket for remote copies (leave empty for none)', value: '' })).trim();
  const saved = await deps.settings.s3Credentials(cluster.name);
  let endpoint = '',
    prefix = '',
    accessKeyId = '',
    secretAccessKey = '',
    remoteKeep = 14;
  if (bucket) {
    endpoint = (await ask(answers, 'endpoint', { title, prompt: 'S3 endpoint URL (empty for AWS)', value: '' })).trim();
    prefix = await ask(answers, 'prefix', { title, prompt: 'Key prefix in the bucket', value: `${slug}/` });
    remoteKeep = Number(await ask(answers, 'remoteKeep', { title, prompt: 'How many remote backups to keep', value: '14' }));
    accessKeyId = await ask(answers, 'accessKeyId', {
      title,
      prompt: "S3 access key ID (kept in VS Code's secret storage)",
      value: saved?.accessKeyId ?? '',
    });
    secretAccessKey = await ask(answers, 'secretAccessKey', {
      title,
      prompt: 'S3 secret access key',
      password: true,
      value: saved?.secretAccessKey ?? '',
    });
  }
  const recipientsText = answers
    ? (answers.recipients ?? []).join(' ')
    : await ask(undefined, 'recipients', {
        title,
        prompt: 'age recipients that encrypt the remote copies (age1…, space-separated)',
        value: '',
      });
  const recipients = recipientsText.split(/[\s,]+/).filter(Boolean);
  return { schedule, localDir, keep, bucket, endpoint, prefix, remoteKeep, accessKeyId, secretAccessKey, recipients };
}

/** The plan's YAML and the secrets files it names; the engine checks the plan before anything is shown. */
async function compose(
  cluster: ClusterConfig,
  deps: CommandDeps,
  answers: ScheduleAnswers | undefined,
  cliBin: string,
): Promise<{ plan: BackupPlan; files: PlannedFile[] }> {
  const f = await form(cluster, deps, answers);
  const slug = cluster.name.replace(/[^A-Za-z0-9._-]+/g, '-');
  const planFile = answers?.planFile ?? join(DEFAULT_PLAN_DIR, `${slug}.yaml`);
  const files: PlannedFile[] = [];
  const c: Record<string, unknown> = { name: cluster.name, endpoints: cluster.endpoints };
  if (cluster.tls) c.tls = cluster.tls;
  if (cluster.timeoutMs) c.timeoutMs = cluster.timeoutMs;
  const password = await deps.settings.password(cluster.name);
  if (cluster.username) c.username = cluster.username;
  if (cluster.username && password !== undefined) {
    c.passwordFile = join(dirname(planFile), `${slug}.password`);
    files.push({ path: c.passwordFile as string, text: `${password}\n`, mode: 0o600, shown: '••••••••\n' });
  }
  const doc: Record<string, unknown> = { cluster: c, schedule: f.schedule, local: { dir: f.localDir, keep: { last: f.keep } } };
  if (f.bucket) {
    const credentialsFile = join(dirname(planFile), `${slug}.s3.credentials`);
    const s3: Record<string, unknown> = { bucket: f.bucket, prefix: f.prefix, credentialsFile };
    if (f.endpoint) Object.assign(s3, { endpoint: f.endpoint, forcePathStyle: true });
    doc.remote = { s3, keep: { last: f.remoteKeep } };
    const ini = (secret: string): string => `[default]\naws_access_key_id = ${f.accessKeyId}\naws_secret_access_key = ${secret}\n`;
    files.push({ path: credentialsFile, text: ini(f.secretAccessKey), mode: 0o600, shown: ini('••••••••') });
  }
  doc.compress = 'gzip';
  if (f.recipients.length) doc.encrypt = { recipients: f.recipients };
  const { stringify } = await import('yaml');
  const text = `# Written by VS Code's "Schedule Backups…"; read by etcd-backup backup run --config ${planFile}\n${stringify(doc)}`;
  const { parsePlan, planUnits } = await import('../core/backup');
  const { plan, problems } = parsePlan(text, planFile);
  if (!plan) throw new EtcdBackupError('invalidInput', problems.join(' '));
  if (f.bucket && (!f.accessKeyId || !f.secretAccessKey)) {
    throw new EtcdBackupError('invalidInput', 'Give the S3 access key ID and secret: the timer has no other way to reach the bucket.');
  }
  files.unshift({ path: planFile, text, mode: 0o600, shown: text });
  const units = planUnits(plan, answers?.cli ?? [cliBin]);
  const unitDir = answers?.unitDir ?? '/etc/systemd/system';
  files.push({ path: join(unitDir, units.serviceName), text: units.service, mode: 0o644, shown: units.service });
  files.push({ path: join(unitDir, units.timerName), text: units.timer, mode: 0o644, shown: units.timer });
  return { plan, files };
}

/** One document per side: each file under a `# ==> path <==` header (the old side as it is on disk). */
async function showDiff(files: PlannedFile[], cluster: string): Promise<{ old: string; new: string }> {
  const oldText: string[] = [];
  const newText: string[] = [];
  for (const f of files) {
    const cur = await fs.readFile(f.path, 'utf8').catch(() => undefined);
    const masked = cur !== undefined && f.shown !== f.text ? '(a file exists here; its secret is not shown)\n' : cur;
    oldText.push(`# ==> ${f.path} <==\n${masked ?? '(does not exist)\n'}`);
    newText.push(`# ==> ${f.path} <==\n${f.shown}`);
  }
  const id = Date.now().toString(36);
  const oldUri = vscode.Uri.from({ scheme: PREVIEW_SCHEME, path: `/${id}/now on disk`, query: id });
  const newUri = vscode.Uri.from({ scheme: PREVIEW_SCHEME, path: `/${id}/backup plan and units`, query: `${id}n` });
  previews.set(oldUri.toString(), oldText.join('\n'));
  previews.set(newUri.toString(), newText.join('\n'));
  await vscode.commands.executeCommand('vscode.diff', oldUri, newUri, `Backups of "${cluster}": what will be written`, { preview: true });
  return { old: oldUri.toString(), new: newUri.toString() };
}

async function writeAll(files: PlannedFile[]): Promise<string[]> {
  const { writeFileAtomic } = await import('../core/backup');
  const written: string[] = [];
  for (const f of files) {
    await writeFileAtomic(f.path, f.text, f.mode);
    await fs.chmod(f.path, f.mode);
    written.push(f.path);
  }
  return written;
}

export async function scheduleBackups(
  deps: CommandDeps,
  target: unknown,
  answers: ScheduleAnswers | undefined,
  install: (a: InstallCliAnswers) => Promise<InstallCliResult>,
): Promise<ScheduleResult> {
  const cluster = target instanceof ClusterNode ? target.cluster : await resolveCluster(target, deps, 'Schedule backups of which cluster?');
  const cliBin = answers?.installRoot ? join(answers.installRoot, INSTALLED_CLI) : INSTALLED_CLI;
  const { plan, files } = await compose(cluster, deps, answers, cliBin);
  const preview = await showDiff(files, cluster.name);
  const cliProblem = answers?.cli ? undefined : await installedCliProblem(deps, cliBin);
  let ok: boolean;
  let installFirst = false;
  if (answers) {
    ok = answers.confirm === true || answers.installCli === true;
    installFirst = answers.installCli === true && cliProblem !== undefined;
  } else {
    const write = 'Write Files';
    const installAndWrite = 'Install the CLI and Write Files';
    const detail =
      `${files.map((f) => f.path).join('\n')}\n\nThe plan and secrets files are written with mode 0600.` +
      (cliProblem ? ` ${cliProblem}` : '') +
      ' Then enable the timer: systemctl daemon-reload && systemctl enable --now ' +
      files[files.length - 1].path.split('/').pop();
    const buttons = cliProblem ? [installAndWrite, write] : [write];
    const question = `Write the backup plan of "${cluster.name}" and its units, as the diff shows?`;
    const choice = await vscode.window.showWarningMessage(question, { modal: true, detail }, ...buttons);
    ok = choice === write || choice === installAndWrite;
    installFirst = choice === installAndWrite;
  }
  if (!ok) return { planFile: plan.path, written: [], preview };
  // The CLI first: when it cannot be installed (no root), nothing is written and the sentence says why.
  const installed = installFirst ? await install({ prefix: answers?.installRoot, confirm: true }) : undefined;
  const f = await keptCredentials(answers, files);
  if (f) await deps.settings.setS3Credentials(cluster.name, f);
  const written = await writeAll(files);
  await addToPlanList(plan.path);
  await deps.tree.refresh(cluster.name).catch(() => undefined);
  deps.log.info(`Schedule Backups: wrote ${written.join(', ')}`);
  return { planFile: plan.path, written, preview, installed };
}

/** A sentence when the installed CLI the units run is missing or older than this extension; undefined when it is fine. */
async function installedCliProblem(deps: CommandDeps, cliBin: string): Promise<string | undefined> {
  const mine = String(vscode.extensions.getExtension('etcd-backup.etcd-backup')?.packageJSON?.version ?? '0.0.0');
  const theirs = await new Promise<string | undefined>((done) =>
    execFile(cliBin, ['--version'], { timeout: 15_000 }, (err, out) => done(err ? undefined : /(\d+\.\d+\.\d+)/.exec(String(out))?.[1])),
  );
  if (!theirs) return `The CLI is not installed at ${cliBin}: the timer fails until it is.`;
  const n = (v: string): number[] => v.split('.').map(Number);
  const [a, b] = [n(theirs), n(mine)];
  const older = a[0] - b[0] || a[1] - b[1] || a[2] - b[2];
  deps.log.debug(`installed CLI ${theirs}, extension ${mine}`);
  return older < 0 ? `The CLI at ${cliBin} is ${theirs}, older than this extension (${mine}).` : undefined;
}

/** The access key the credentials file holds (to keep in the secret storage), if any. */
async function keptCredentials(
  answers: ScheduleAnswers | undefined,
  files: PlannedFile[],
): Promise<{ accessKeyId: string; secretAccessKey: string } | undefined> {
  const cred = files.find((x) => x.path.endsWith('.s3.credentials'));
  if (!cred) return undefined;
  const id = /aws_access_key_id = (.*)/.exec(cred.text)?.[1] ?? answers?.accessKeyId ?? '';
  const secret = /aws_secret_access_key = (.*)/.exec(cred.text)?.[1] ?? '';
  return { accessKeyId: id, secretAccessKey: secret };
}

/** When `etcdBackup.backupPlans` is a list, the new plan joins it (unset: the default folder is scanned). */
async function addToPlanList(planFile: string): Promise<void> {
  const cfg = vscode.workspace.getConfiguration(SECTION);
  const list = cfg.inspect<unknown>('backupPlans')?.globalValue;
  if (Array.isArray(list) && !list.includes(planFile)) {
    await cfg.update('backupPlans', [...list, planFile], vscode.ConfigurationTarget.Global);
  }
}

export function registerScheduleCommands(context: vscode.ExtensionContext, deps: CommandDeps): void {
  context.subscriptions.push(
    vscode.workspace.registerTextDocumentContentProvider(PREVIEW_SCHEME, {
      provideTextDocumentContent: (uri) => previews.get(uri.toString()) ?? '',
    }),
  );
  const register = commandRegistrar(context, deps.log);
  const install = (a: InstallCliAnswers): Promise<InstallCliResult> => installCli(context, deps, a);
  register<ScheduleAnswers>('etcdBackup.scheduleBackups', (target, answers) => scheduleBackups(deps, target, answers, install));
  register('etcdBackup.editBackupPlan', async (target) => {
    const path = target instanceof BackupsNode ? target.entry.path : typeof target === 'string' ? target : undefined;
    if (!path) throw new EtcdBackupError('invalidInput', 'Edit Backup Plan works on a Backups node of the Clusters view.');
    return vscode.window.showTextDocument(vscode.Uri.file(path));
  });
}
