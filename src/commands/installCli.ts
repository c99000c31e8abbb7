/**
 * "Install the CLI on This Machine" (`etcdBackup.installCli`): a self-contained copy of the
 * `etcd-backup` CLI that the backup timers run, so they keep working when VS Code is closed,
 * updated or removed: `/opt/etcd-backup/<version>/` holds a Node 20+ runtime (`bin/node`),
 * `dist/cli.js`, the protos and the native module; `/usr/local/bin/etcd-backup` is a small
 * `/bin/sh` wrapper that runs them by absolute path (no `node` on PATH needed).
 *
 * The version folder is filled under a temp name and renamed into place, so a half copy never
 * has the final name; an existing version folder is kept as it is (nothing is overwritten). The
 * wrapper is written through a temp file and a rename. A `prefix` answer (tests) installs under
 * another root.
 */
import { execFile } from 'child_process';
import { promises as fs } from 'fs';
import { delimiter, join } from 'path';
import * as vscode from 'vscode';
import { EtcdBackupError, explainFs } from '../core/errors';
import { CommandDeps, commandRegistrar } from './common';

export interface InstallCliAnswers {
  /** Install under this root instead of / (tests). */
  prefix?: string;
  confirm?: boolean;
}

export interface InstallCliResult {
  version: string;
  dir: string;
  bin: string;
  node: string;
  /** False when that version was already installed (kept as it was). */
  copied: boolean;
}

function nodeVersion(bin: string): Promise<number | undefined> {
  return new Promise((done) =>
    execFile(bin, ['--version'], { timeout: 10_000, env: { ...process.env, ELECTRON_RUN_AS_NODE: undefined } }, (err, out) => {
      const m = /^v(\d+)\./.exec(String(out).trim());
      done(err || !m ? undefined : Number(m[1]));
    }),
  );
}

/** A Node 20+ runtime to copy: this extension host's own when it is Node (not Electron), else the first `node` on PATH. */
async function findNode(): Promise<string> {
  const candidates = process.versions.electron ? [] : [process.execPath];
  for (const d of (process.env.PATH ?? '').split(delimiter).filter(Boolean)) candidates.push(join(d, 'node'));
  for (const c of candidates) {
    const v = await nodeVersion(c);
    if (v !== undefined && v >= 20) return fs.realpath(c);
  }
  throw new EtcdBackupError(
    'notFound',
    "No Node.js 20 or newer was found to copy (VS Code's own runtime is Electron here): " + 'install nodejs 20+ and run the command again.',
  );
}

async function copyInstall(src: string, node: string, target: string): Promise<void> {
  const tmp = `${target}.tmp-${process.pid}-${Date.now()}`;
  try {
    await fs.mkdir(join(tmp, 'bin'), { recursive: true, mode: 0o755 });
    await fs.copyFile(node, join(tmp, 'bin', 'node'));
    await fs.chmod(join(tmp, 'bin', 'node'), 0o755);
    await fs.mkdir(join(tmp, 'dist'), { mode: 0o755 });
    await fs.copyFile(join(src, 'cli.js'), join(tmp, 'dist', 'cli.js'));
    for (const sub of ['proto', 'native']) await fs.cp(join(src, sub), join(tmp, 'dist', sub), { recursive: true });
    await fs.rename(tmp, target);
  } catch (err) {
    await fs.rm(tmp, { recursive: true, force: true }).catch(() => undefined);
    throw err;
  }
}

export async function installCli(
  context: vscode.ExtensionContext,
  deps: CommandDeps,
  answers: InstallCliAnswers | undefined,
): Promise<InstallCliResult> {
  const version = String((context.extension.packageJSON as { version?: string }).version ?? '0.0.0');
  const root = answers?.prefix ?? '/';
  const dir = join(root, 'opt', 'etcd-backup', version);
  const bin = join(root, 'usr', 'local', 'bin', 'etcd-backup');
  const node = await findNode();
  if (!answers) {
    const button = 'Install';
    const detail =
      `${dir}: a Node.js runtime (${node}), cli.js, the protos and the native module.\n${bin}: runs them.\n\n` +
      'The backup timers run ' +
      `${bin}, so they keep working when VS Code is closed, updated or removed.`;
    const question = `Install etcd-backup ${version} on this machine?`;
    const choice = await vscode.window.showInformationMessage(question, { modal: true, detail }, button);
    if (choice !== button) {
      return { version, dir, bin, node, copied: false };
    }
  } else if (answers.confirm === false) {
    return { version, dir, bin, node, copied: false };
  }
  const src = join(context.extensionPath, 'dist');
  try {
    const exists = await fs.stat(dir).then(
      () => true,
      () => false,
    );
    await fs.mkdir(join(root, 'opt', 'etcd-backup'), { recursive: true, mode: 0o755 });
    if (!exists) await copyInstall(src, node, dir);
    await fs.mkdir(join(root, 'usr', 'local', 'bin'), { recursive: true, mode: 0o755 });
    const q = (s: string): string => `'${s.replace(/'/g, `'\\''`)}'`;
    const wrapper =
      `#!/bin/sh\n# etcd-backup ${version}, installed by VS Code's "Install the CLI on This Machine"\n` +
      `exec ${q(join(dir, 'bin', 'node'))} ${q(join(dir, 'dist', 'cli.js'))} "$@"\n`;
    const { writeFileAtomic } = await import('../core/backup');
    await writeFileAtomic(bin, wrapper, 0o755);
    await fs.chmod(bin, 0o755);
    deps.log.info(`Installed etcd-backup ${version}: ${bin} → ${dir}${exists ? ' (that version was already there, kept)' : ''}`);
    if (!answers) void vscode.window.showInformationMessage(`etcd-backup ${version} is installed: ${bin}.`);
    return { version, dir, bin, node, copied: !exists };
  } catch (err) {
    throw explainFs(err, `install the CLI under ${root}`);
  }
}

export function registerInstallCliCommand(context: vscode.ExtensionContext, deps: CommandDeps): void {
  const register = commandRegistrar(context, deps.log);
  register<InstallCliAnswers>('etcdBackup.installCli', (_target, answers) => installCli(context, deps, answers), { loneAnswers: true });
}
