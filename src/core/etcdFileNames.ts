/**
 * The one definition of "an etcd file" by name and path, before its content is read: kubeadm's
 * static pod manifest, `etcd.env` and other env files, etcd's config file, systemd units. Every
 * place that picks files by name uses it: the editor's document selector, the import command's
 * and the file offers' dialogs, the workspace search for candidates, and (checked by a unit
 * test) package.json's activation events and menu `when` clauses. Content decides afterwards
 * (src/core/etcdFiles). No imports: the editor reads it at activation.
 */

/** Where the editor looks (glob patterns over the path); content then decides whether a file is etcd's. */
export const ETCD_FILE_PATTERNS = [
  '**/etcd*.{yaml,yml}',
  '**/manifests/*.{yaml,yml}',
  '**/*.env',
  '**/etcd*.conf',
  '**/default/etcd',
  '**/*.service',
  '**/*.service.d/*.conf',
] as const;

/**
 * A file name (no folder) that looks like etcd's: `etcd*.yaml`, `etcd*.env`, `etcd*.conf`, any
 * `*.env` or `*.service`. The explorer and editor-title menus offer Import by it
 * (`resourceFilename =~ /…/i`), and the file offers take open editors by it.
 */
export const ETCD_FILE_NAME = /(etcd.*\.(ya?ml|env|conf)|\.(env|service))$/i;

/** The `when` clause of package.json's explorer and editor-title menus (Import Cluster from etcd File…). */
export const ETCD_FILE_MENU_WHEN = `resourceFilename =~ ${ETCD_FILE_NAME.toString()}`;

/** The extensions the open dialogs filter on. */
export const ETCD_FILE_EXTENSIONS = ['yaml', 'yml', 'env', 'service', 'conf'] as const;

/** Workspace files worth offering for an edit: kubeadm's manifest, env files, etcd config files, systemd units. */
export const ETCD_FILE_GLOB = '**/{etcd.env,etcd.yaml,etcd.yml,*.service,etcd.conf.yml,etcd.conf.yaml,etcd.config.yml}';

/** Files whose presence in a workspace activates the extension (package.json `workspaceContains:`). */
export const ETCD_ACTIVATION_FILES = ['**/etcd.yaml', '**/etcd.env'] as const;

/** kubeadm's static pod manifest for etcd, where the kubelet reads it. */
export const KUBEADM_MANIFEST = '/etc/kubernetes/manifests/etcd.yaml';

/** Does the file name look like one of etcd's files (before reading it)? */
export function looksLikeEtcdFileName(fileName: string): boolean {
  const base = fileName.replace(/\\/g, '/').split('/').pop() ?? '';
  return ETCD_FILE_NAME.test(base);
}
