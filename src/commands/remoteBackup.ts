/**
 * A backup from the tree as a plain snapshot file for the snapshot commands (Restore
 * Snapshot…, Show Snapshot Report, Verify Snapshot, Compare Snapshots…, Search Snapshot Keys…):
 * a local backup is its own file; a remote one is fetched first by the engine's `fetchBackup`
 * (checked against its recorded SHA-256 and by the snapshot reader) into a fresh 0700 temp
 * folder, as a 0600 file, under a cancellable progress notification. The report, verify and
 * compare commands remove that folder when they are done (Restore keeps it: the runbook names
 * the file).
 *
 * The age identity that decrypts an encrypted remote backup comes from the secret storage when
 * one stored there is among the backup's recipients; only otherwise is it asked for (a file or
 * pasted), and once it decrypted the backup it may be remembered. An identity is never written
 * to disk (only the user's own file is read). "Store an age Identity…" and "Forget Stored age
 * Identities…" manage the stored ones. The engine and the AWS SDK load here, on first use.
 */
import { promises as fs } from 'fs';
import { tmpdir } from 'os';
import { join } from 'path';
import * as vscode from 'vscode';
import type { AgeIdentity, BackupPlan, LocalBackup, RemoteBackup } from '../core/backup';
import { EtcdBackupError } from '../core/errors';
import { BackupNode } from '../views/backupNodes';
import { cancelled, CommandDeps, commandRegistrar, withCancellableProgress } from './common';

type Core = typeof import('../core/backup');

export interface RemoteBackupAnswers {
  /** The age identity file that decrypts an encrypted remote backup. */
  identityFile?: string;
  /** The identity itself (`AGE-SECRET-KEY-1…`), as pasted. */
  identity?: string;
  /** Keep the given identity in the secret storage once it decrypted the backup. */
  rememberIdentity?: boolean;
}

/** A backup of a plan, as the commands get it. */
export interface PlanBackup {
  plan: BackupPlan;
  backup: LocalBackup | RemoteBackup;
}

/** A backup named without a tree node (tests, links): `{ plan: "/etc/etcd-backup/prod.yaml", backup: "prod-2026…", from? }`. */
function namedBackup(target: unknown): { plan: string; backup: string; from: 'local' | 'remote' } | undefined {
  const t = target as { plan?: unknown; backup?: unknown; from?: unknown } | undefined;
  if (!t || typeof t !== 'object' || typeof t.plan !== 'string' || typeof t.backup !== 'string') return undefined;
  return { plan: t.plan, backup: t.backup, from: t.from === 'local' ? 'local' : 'remote' };
}

/** The backup name of a `{ plan, backup }` target, if it is one. */
export function backupTargetName(target: unknown): string | undefined {
  return namedBackup(target)?.backup;
}

/** The backup a target names: a backup node's, or a `{ plan, backup }` looked up in the plan's folder or store. */
export async function planBackupOf(target: unknown): Promise<PlanBackup | undefined> {
  if (target instanceof BackupNode) {
    const plan = target.parent.plan;
    if (!plan) throw new EtcdBackupError('invalidInput', 'The plan of this backup cannot be read: fix it first.');
    return { plan, backup: target.backup };
  }
  const named = namedBackup(target);
  if (!named) return undefined;
  const core = await import('../core/backup');
  const plan = await core.loadPlan(named.plan);
  let backups: (LocalBackup | RemoteBackup)[];
  let where = plan.local.dir;
  if (named.from === 'local') backups = (await core.listLocal(plan)).backups;
  else {
    if (!plan.remote) throw new EtcdBackupError('invalidInput', `${named.plan} has no remote destination.`);
    const store = await core.openPlanStore(plan);
    where = store.where;
    try {
      backups = (await core.listRemote(plan, store)).backups;
    } finally {
      store.close();
    }
  }
  const backup = backups.find((b) => b.name === named.backup);
  if (!backup) throw new EtcdBackupError('notFound', `No backup named ${named.backup} in ${where}.`);
  return { plan, backup };
}

/** Each key line of an identity text with its identity (the whole text checked first: one sentence for a bad line). */
function keysOf(core: Core, text: string, source: string): { key: string; identity: AgeIdentity }[] {
  core.parseIdentities(text, source);
  return text
    .split(/\r?\n/)
    .map((l) => l.trim())
    .filter((l) => l && !l.startsWith('#'))
    .map((key) => ({ key, identity: core.parseIdentities(key, source)[0] }));
}

/** The stored identities (a stored entry that no longer parses is skipped). */
async function storedKeys(core: Core, deps: CommandDeps): Promise<{ key: string; identity: AgeIdentity }[]> {
  const out: { key: string; identity: AgeIdentity }[] = [];
  for (const key of await deps.settings.ageIdentities()) {
    try {
      out.push(...keysOf(core, key, 'a stored identity'));
    } catch {
      deps.log.warn('A stored age identity does not parse: skipped (forget it with "Forget Stored age Identities…").');
    }
  }
  return out;
}

/** Add keys to the secret storage (one entry per recipient). Returns the recipients now stored. */
async function rememberKeys(core: Core, deps: CommandDeps, keys: { key: string; identity: AgeIdentity }[]): Promise<string[]> {
  const stored = await storedKeys(core, deps);
  const seen = new Set(stored.map((s) => s.identity.recipient.text));
  const all = [...stored, ...keys.filter((k) => !seen.has(k.identity.recipient.text) && seen.add(k.identity.recipient.text))];
  await deps.settings.setAgeIdentities(all.map((k) => k.key));
  return all.map((k) => k.identity.recipient.text);
}

/** Ask for an identity: an identity file, or the key pasted (hidden). Undefined when dismissed. */
async function askKeys(core: Core, title: string): Promise<{ key: string; identity: AgeIdentity }[] | undefined> {
  const file = { label: '$(file) Identity File…', detail: 'A key file age-keygen wrote (only read, never copied)' };
  const paste = { label: '$(key) Paste the Identity…', detail: 'AGE-SECRET-KEY-1… (hidden while typed)' };
  const pick = await vscode.window.showQuickPick([file, paste], {
    title,
    placeHolder: 'How to give the age identity',
    ignoreFocusOut: true,
  });
  if (pick === file) {
    const uri = (await vscode.window.showOpenDialog({ title, canSelectMany: false, openLabel: 'Use This Identity' }))?.[0];
    return uri ? keysOf(core, await fs.readFile(uri.fsPath, 'utf8'), uri.fsPath) : undefined;
  }
  if (pick !== paste) return undefined;
  const text = await vscode.window.showInputBox({
    title,
    prompt: 'The age identity (AGE-SECRET-KEY-1…)',
    password: true,
    ignoreFocusOut: true,
    validateInput: (v) => {
      try {
        core.parseIdentities(v, 'the pasted text');
        return undefined;
      } catch (err) {
        return err instanceof Error ? err.message : String(err);
      }
    },
  });
  return text ? keysOf(core, text, 'the pasted text') : undefined;
}

/** The identities that decrypt `b` (a stored one first) and the keys to remember once it decrypted. */
async function identitiesFor(
  core: Core,
  b: RemoteBackup,
  answers: RemoteBackupAnswers | undefined,
  deps: CommandDeps,
): Promise<{ identities: AgeIdentity[]; remember?: { key: string; identity: AgeIdentity }[] }> {
  const fps = b.metadata.encryption?.recipients ?? [];
  const matches = (i: AgeIdentity): boolean => fps.length === 0 || fps.includes(core.recipientFingerprint(i.recipient));
  const stored = await storedKeys(core, deps);
  const usable = stored.filter((s) => matches(s.identity));
  if (usable.length) {
    deps.log.info(`${b.name}: decrypting with the stored identity of ${usable.map((u) => u.identity.recipient.text).join(', ')}`);
    return { identities: usable.map((u) => u.identity) };
  }
  const why = stored.length
    ? `none of the ${stored.length} stored age identit${stored.length === 1 ? 'y is' : 'ies is'} one of its recipients`
    : 'no age identity is stored';
  let keys: { key: string; identity: AgeIdentity }[] | undefined;
  if (answers?.identity) keys = keysOf(core, answers.identity, 'the given identity');
  else if (answers?.identityFile) keys = keysOf(core, await fs.readFile(answers.identityFile, 'utf8'), answers.identityFile);
  else if (answers) {
    throw new EtcdBackupError(
      'invalidInput',
      `${b.name} is encrypted and ${why}: give the age identity file that decrypts it ({ identityFile }), or store it with ` +
        '"Store an age Identity…".',
    );
  } else keys = (await askKeys(core, `${b.name} is encrypted and ${why}: give the identity that decrypts it`)) ?? cancelled();
  if (!keys.some((k) => matches(k.identity))) {
    throw new EtcdBackupError(
      'auth',
      `That identity (${keys.map((k) => k.identity.recipient.text).join(', ')}) is not one of the recipients of ${b.name}: give the ` +
        'key of one of the recipients its plan names under encrypt.recipients.',
    );
  }
  const good = keys.filter((k) => matches(k.identity));
  return { identities: good.map((k) => k.identity), remember: answers?.rememberIdentity === false ? undefined : good };
}

/** A backup as a snapshot file; `dispose` removes a fetched copy (a no-op for a local backup). */
export interface BackupSnapshot {
  file: string;
  name: string;
  /** True when the file is a fetched temp copy. */
  fetched: boolean;
  dispose(): Promise<void>;
}

/** The snapshot file of a backup target (fetching a remote one to a 0600 temp file); undefined for any other target. */
export async function backupSnapshot(
  target: unknown,
  answers: RemoteBackupAnswers | undefined,
  deps: CommandDeps,
): Promise<BackupSnapshot | undefined> {
  const found = await planBackupOf(target);
  if (!found) return undefined;
  const { plan, backup: b } = found;
  if (b.where === 'local') return { file: b.file, name: b.name, fetched: false, dispose: async () => undefined };
  const core = await import('../core/backup');
  const keys = b.metadata.encryption ? await identitiesFor(core, b, answers, deps) : undefined;
  const dir = await fs.mkdtemp(join(tmpdir(), 'etcd-backup-fetch-'));
  const dispose = (): Promise<void> => fs.rm(dir, { recursive: true, force: true }).catch(() => undefined);
  try {
    await fs.chmod(dir, 0o700);
    const out = join(dir, `${b.name}.db`);
    const r = await withCancellableProgress(`Fetching ${b.name}`, ({ signal, report }) =>
      core.fetchBackup(plan, { name: b.name, from: 'remote', out, identities: keys?.identities, signal, log: (line) => report(line) }),
    );
    await fs.chmod(r.file, 0o600);
    deps.log.info(`Fetched ${b.name} to ${r.file} (${r.size} bytes, sha256 ${r.sha256})`);
    if (keys?.remember?.length) await offerToRemember(core, deps, keys.remember, answers);
    return { file: r.file, name: b.name, fetched: true, dispose };
  } catch (err) {
    await dispose();
    throw err;
  }
}

/** Once an identity decrypted a backup: remember it (answers), or offer to. */
async function offerToRemember(
  core: Core,
  deps: CommandDeps,
  keys: { key: string; identity: AgeIdentity }[],
  answers: RemoteBackupAnswers | undefined,
): Promise<void> {
  if (answers) {
    if (answers.rememberIdentity) await rememberKeys(core, deps, keys);
    return;
  }
  const button = 'Remember It';
  const who = keys.map((k) => k.identity.recipient.text).join(', ');
  void vscode.window
    .showInformationMessage(`Remember the identity of ${who} in VS Code's secret storage, for the next encrypted backup?`, button)
    .then(async (c) => {
      if (c === button) await rememberKeys(core, deps, keys);
    });
}

/** The snapshot file for a backup target (a remote one fetched and kept); undefined for any other target. */
export async function snapshotOfBackup(
  target: unknown,
  answers: RemoteBackupAnswers | undefined,
  deps: CommandDeps,
): Promise<string | undefined> {
  return (await backupSnapshot(target, answers, deps))?.file;
}

export interface StoreIdentityAnswers {
  identity?: string;
  identityFile?: string;
}

/** "Store an age Identity…": check it and keep it in the secret storage. Returns every stored recipient. */
async function storeIdentity(answers: StoreIdentityAnswers | undefined, deps: CommandDeps): Promise<{ recipients: string[] }> {
  const core = await import('../core/backup');
  let keys: { key: string; identity: AgeIdentity }[] | undefined;
  if (answers?.identity) keys = keysOf(core, answers.identity, 'the given identity');
  else if (answers?.identityFile) keys = keysOf(core, await fs.readFile(answers.identityFile, 'utf8'), answers.identityFile);
  else if (answers) throw new EtcdBackupError('invalidInput', 'Give the identity ({ identity } or { identityFile }).');
  else keys = (await askKeys(core, 'Store an age identity that decrypts remote backups')) ?? cancelled();
  const recipients = await rememberKeys(core, deps, keys);
  const added = keys.map((k) => k.identity.recipient.text).join(', ');
  deps.log.info(`Stored the age identity of ${added} in the secret storage`);
  if (!answers) void vscode.window.showInformationMessage(`The identity of ${added} is kept in VS Code's secret storage.`);
  return { recipients };
}

export interface ForgetIdentityAnswers {
  /** The recipient (`age1…`) whose identity to forget, or `all`. */
  recipient?: string;
}

/** "Forget Stored age Identities…": one (by its recipient) or all. Returns the recipients still stored. */
async function forgetIdentity(answers: ForgetIdentityAnswers | undefined, deps: CommandDeps): Promise<{ recipients: string[] }> {
  const core = await import('../core/backup');
  const stored = await storedKeys(core, deps);
  let which = answers?.recipient;
  if (!answers) {
    if (!stored.length && !(await deps.settings.ageIdentities()).length) {
      void vscode.window.showInformationMessage('No age identity is stored.');
      return { recipients: [] };
    }
    const items = [
      ...stored.map((s) => ({ label: s.identity.recipient.text, description: 'its identity' })),
      { label: 'all', description: 'every stored identity' },
    ];
    which = (await vscode.window.showQuickPick(items, { title: 'Forget which stored age identity?' }))?.label ?? cancelled();
  }
  if (!which) throw new EtcdBackupError('invalidInput', 'Say which identity to forget ({ recipient: "age1…" } or "all").');
  const left = which === 'all' ? [] : stored.filter((s) => s.identity.recipient.text !== which);
  if (which !== 'all' && left.length === stored.length) throw new EtcdBackupError('notFound', `No identity of ${which} is stored.`);
  await deps.settings.setAgeIdentities(left.map((k) => k.key));
  deps.log.info(`Forgot the stored age identity of ${which}`);
  return { recipients: left.map((k) => k.identity.recipient.text) };
}

export function registerIdentityCommands(context: vscode.ExtensionContext, deps: CommandDeps): void {
  const register = commandRegistrar(context, deps.log);
  const lone = { loneAnswers: true };
  register<StoreIdentityAnswers>('etcdBackup.storeAgeIdentity', (_t, answers) => storeIdentity(answers, deps), lone);
  register<ForgetIdentityAnswers>('etcdBackup.forgetAgeIdentity', (_t, answers) => forgetIdentity(answers, deps), lone);
}
