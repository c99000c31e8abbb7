import * as vscode from 'vscode';
import { refreshIntervalSeconds, toSettingsEntry, validateClusters, ValidationResult } from './core/config';
import type { ToolPaths } from './core/tools';
import type { ClusterConfig } from './core/types';

export const SECTION = 'etcdBackup';

/** Where a cluster is kept: user settings (`etcdBackup.clusters`) or the workspace's list. */
export type ClusterSource = 'user' | 'workspace';

const KEY: Record<ClusterSource, string> = { user: 'clusters', workspace: 'workspaceClusters' };
const TARGET: Record<ClusterSource, vscode.ConfigurationTarget> = {
  user: vscode.ConfigurationTarget.Global,
  workspace: vscode.ConfigurationTarget.Workspace,
};

/** Key of a cluster's password in the secret storage. */
export function passwordKey(clusterName: string): string {
  return `etcdBackup.password:${clusterName.toLowerCase()}`;
}

/** Key of a cluster's backup S3 access key in the secret storage. */
export function s3CredentialsKey(clusterName: string): string {
  return `etcdBackup.s3:${clusterName.toLowerCase()}`;
}

/** Key of the age identities (AGE-SECRET-KEY-1… lines) that decrypt remote backups, in the secret storage. */
export const AGE_IDENTITIES_KEY = 'etcdBackup.ageIdentities';

/**
 * Reads cluster configurations from settings, validates them with src/core, and tells
 * listeners when they change (only when `affectsConfiguration` says so). Writes clusters back
 * and keeps their passwords in the secret storage, never in settings.
 */
export class Settings implements vscode.Disposable {
  private readonly emitter = new vscode.EventEmitter<void>();
  readonly onDidChange = this.emitter.event;
  private readonly subs: vscode.Disposable[] = [];

  constructor(private readonly secrets?: vscode.SecretStorage) {
    this.subs.push(
      vscode.workspace.onDidChangeConfiguration((e) => {
        if (e.affectsConfiguration(SECTION)) {
          this.emitter.fire();
        }
      }),
    );
    if (secrets) {
      this.subs.push(
        secrets.onDidChange((e) => {
          if (e.key.startsWith('etcdBackup.password:')) {
            this.emitter.fire();
          }
        }),
      );
    }
  }

  private raw(source: ClusterSource): unknown[] {
    if (source === 'workspace' && !vscode.workspace.isTrusted) {
      return [];
    }
    const cfg = vscode.workspace.getConfiguration(SECTION);
    // For writing, only the value at that target counts (not a merged default).
    const inspected = cfg.inspect<unknown[]>(KEY[source]);
    const v = source === 'user' ? inspected?.globalValue : inspected?.workspaceValue;
    return Array.isArray(v) ? v : [];
  }

  /** Clusters from user settings followed by the workspace's own list. */
  clusters(): ValidationResult {
    const cfg = vscode.workspace.getConfiguration(SECTION);
    const user = cfg.get<unknown[]>('clusters') ?? [];
    // The workspace list only counts in a trusted workspace (it names files the extension reads).
    const workspace = vscode.workspace.isTrusted ? (cfg.get<unknown[]>('workspaceClusters') ?? []) : [];
    return validateClusters([...(Array.isArray(user) ? user : []), ...(Array.isArray(workspace) ? workspace : [])]);
  }

  /** The valid cluster with this name (case-insensitive), if any. */
  cluster(name: string): ClusterConfig | undefined {
    return this.clusters().clusters.find((c) => c.name.toLowerCase() === name.toLowerCase());
  }

  /** Which list holds the cluster (user first, as `clusters()` reads them). */
  sourceOf(name: string): ClusterSource | undefined {
    const has = (list: unknown[]): boolean =>
      list.some(
        (c) =>
          typeof c === 'object' &&
          c !== null &&
          String((c as { name?: unknown }).name ?? '')
            .trim()
            .toLowerCase() === name.toLowerCase(),
      );
    if (has(this.raw('user'))) return 'user';
    if (has(this.raw('workspace'))) return 'workspace';
    return undefined;
  }

  /** Names of every configured cluster, valid or not (a new name must differ from all). */
  allNames(): string[] {
    return [...this.raw('user'), ...this.raw('workspace')]
      .map((c) => (typeof c === 'object' && c !== null ? String((c as { name?: unknown }).name ?? '').trim() : ''))
      .filter(Boolean);
  }

  /**
   * Add a cluster, or replace the one named `replaces` in place (keeping its position and any
   * fields this version does not know). A rename moves the password along.
   */
  async saveCluster(cluster: ClusterConfig, opts: { source?: ClusterSource; replaces?: string } = {}): Promise<ClusterSource> {
    const source = opts.source ?? (opts.replaces ? (this.sourceOf(opts.replaces) ?? 'user') : 'user');
    const list = [...this.raw(source)];
    const entry = toSettingsEntry(cluster);
    const at = opts.replaces
      ? list.findIndex(
          (c) =>
            typeof c === 'object' &&
            c !== null &&
            String((c as { name?: unknown }).name ?? '')
              .trim()
              .toLowerCase() === opts.replaces?.toLowerCase(),
        )
      : -1;
    if (at >= 0) {
      const old = list[at] as Record<string, unknown>;
      const kept: Record<string, unknown> = {};
      for (const [k, v] of Object.entries(old)) {
        if (!['name', 'endpoints', 'tls', 'username', 'snapshotDir', 'timeoutMs'].includes(k)) {
          kept[k] = v;
        }
      }
      list[at] = { ...entry, ...kept };
    } else {
      list.push(entry);
    }
    await vscode.workspace.getConfiguration(SECTION).update(KEY[source], list, TARGET[source]);
    if (opts.replaces && opts.replaces.toLowerCase() !== cluster.name.toLowerCase()) {
      const pw = await this.password(opts.replaces);
      if (pw !== undefined) {
        await this.setPassword(cluster.name, pw);
      }
      await this.deletePassword(opts.replaces);
    }
    return source;
  }

  /** Remove the cluster from whichever list holds it, and forget its password. */
  async removeCluster(name: string): Promise<boolean> {
    const source = this.sourceOf(name);
    if (!source) {
      return false;
    }
    const list = this.raw(source).filter(
      (c) =>
        !(
          typeof c === 'object' &&
          c !== null &&
          String((c as { name?: unknown }).name ?? '')
            .trim()
            .toLowerCase() === name.toLowerCase()
        ),
    );
    await vscode.workspace.getConfiguration(SECTION).update(KEY[source], list, TARGET[source]);
    await this.deletePassword(name);
    return true;
  }

  async password(name: string): Promise<string | undefined> {
    return this.secrets ? await this.secrets.get(passwordKey(name)) : undefined;
  }

  async setPassword(name: string, password: string): Promise<void> {
    await this.secrets?.store(passwordKey(name), password);
  }

  async deletePassword(name: string): Promise<void> {
    await this.secrets?.delete(passwordKey(name));
  }

  /** The S3 access key a backup plan of this cluster uploads with, kept in the secret storage. */
  async s3Credentials(name: string): Promise<{ accessKeyId: string; secretAccessKey: string } | undefined> {
    const raw = this.secrets ? await this.secrets.get(s3CredentialsKey(name)) : undefined;
    try {
      const v = raw ? (JSON.parse(raw) as { accessKeyId?: unknown; secretAccessKey?: unknown }) : undefined;
      return typeof v?.accessKeyId === 'string' && typeof v.secretAccessKey === 'string'
        ? { accessKeyId: v.accessKeyId, secretAccessKey: v.secretAccessKey }
        : undefined;
    } catch {
      return undefined;
    }
  }

  async setS3Credentials(name: string, creds: { accessKeyId: string; secretAccessKey: string }): Promise<void> {
    await this.secrets?.store(s3CredentialsKey(name), JSON.stringify(creds));
  }

  /** The stored age identities (AGE-SECRET-KEY-1… lines), for decrypting remote backups. */
  async ageIdentities(): Promise<string[]> {
    const raw = this.secrets ? await this.secrets.get(AGE_IDENTITIES_KEY) : undefined;
    try {
      const v = raw ? (JSON.parse(raw) as unknown) : [];
      return Array.isArray(v) ? v.filter((x): x is string => typeof x === 'string') : [];
    } catch {
      return [];
    }
  }

  /** Replace the stored age identities (an empty list deletes the entry). */
  async setAgeIdentities(keys: string[]): Promise<void> {
    if (keys.length) await this.secrets?.store(AGE_IDENTITIES_KEY, JSON.stringify(keys));
    else await this.secrets?.delete(AGE_IDENTITIES_KEY);
  }

  /** Seconds between automatic refreshes of the tree while it is visible; 0 turns them off. */
  refreshIntervalSeconds(): number {
    // Bounded in core: a huge value would overflow the timer and refresh every millisecond.
    return refreshIntervalSeconds(vscode.workspace.getConfiguration(SECTION).get<number>('refreshIntervalSeconds', 30));
  }

  /**
   * The paths to etcdutl, etcdctl and etcd (machine-scoped settings): only the user's (machine's)
   * value counts, never a workspace's, so a workspace cannot point them at a script.
   */
  toolPaths(): ToolPaths {
    const cfg = vscode.workspace.getConfiguration(SECTION);
    const get = (key: string): string | undefined => cfg.inspect<string>(key)?.globalValue || undefined;
    return { etcdutl: get('etcdutlPath'), etcdctl: get('etcdctlPath'), etcd: get('etcdPath') };
  }

  /**
   * The backup plan files to show (machine-scoped `etcdBackup.backupPlans`): only the user's
   * (machine's) value counts. Undefined when unset: the caller scans the default folder.
   */
  backupPlanPaths(): string[] | undefined {
    const v = vscode.workspace.getConfiguration(SECTION).inspect<unknown>('backupPlans')?.globalValue;
    return Array.isArray(v) ? v.filter((x): x is string => typeof x === 'string' && x.trim() !== '').map((x) => x.trim()) : undefined;
  }

  /** The etcdctl to show in copied commands (default `etcdctl`, found on PATH). */
  etcdctlPath(): string {
    return this.toolPaths().etcdctl ?? 'etcdctl';
  }

  dispose(): void {
    this.subs.forEach((s) => s.dispose());
    this.emitter.dispose();
  }
}
