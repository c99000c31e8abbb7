/**
 * The VS Code side's one way to etcd: it loads src/core/etcd on first use (so etcd3 and its
 * protos stay out of activation), fetches each cluster's password from the secret storage, and
 * words what only the extension knows (a user without a saved password, core's hints).
 */
import type { ClusterOverview } from './core/clusterStatus';
import type { EtcdConnection } from './core/etcd';
import type { ClusterConfig, ClusterSecrets } from './core/types';
import { wordOverview } from './hints';
import type { Settings } from './settings';

type EtcdCore = typeof import('./core/etcd');

export class EtcdService {
  private core: Promise<EtcdCore> | undefined;

  constructor(private readonly settings: Settings) {}

  /** src/core/etcd, loaded once, on the first call that needs etcd. */
  private load(): Promise<EtcdCore> {
    this.core ??= import('./core/etcd');
    return this.core;
  }

  /**
   * The overview of a cluster (members, health, status), with the saved password, or with
   * `password` when given (a connection test before the password is saved).
   */
  async overview(cluster: ClusterConfig, password?: string): Promise<ClusterOverview> {
    const { fetchClusterOverview } = await this.load();
    const secrets = cluster.username && password !== undefined ? { password } : await this.secretsFor(cluster);
    const o = wordOverview(await fetchClusterOverview(cluster, secrets));
    if (!o.reachable && o.error?.kind === 'auth' && cluster.username && secrets.password === undefined) {
      // Say what is really missing: settings hold the user, the secret storage has no password.
      const message =
        `No password is saved for user "${cluster.username}" of cluster ` + `"${cluster.name}": run "etcd: Edit Cluster…" to enter it.`;
      o.error = { ...o.error, message, reason: 'no password saved' };
      o.endpointErrors = [{ endpoint: '', error: o.error }];
    }
    return o;
  }

  /** What a connection needs besides the settings: the password from the secret storage, when the cluster has a user. */
  async secretsFor(cluster: ClusterConfig): Promise<ClusterSecrets> {
    return cluster.username ? { password: await this.settings.password(cluster.name) } : {};
  }

  /** Run `fn` with one connection to the cluster (closed afterwards), with its saved password. */
  async withConnection<T>(cluster: ClusterConfig, fn: (conn: EtcdConnection) => Promise<T>): Promise<T> {
    const { withConnection } = await this.load();
    return withConnection(cluster, await this.secretsFor(cluster), fn);
  }
}
