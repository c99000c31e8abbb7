/**
 * etcd's files, understood and edited: static pod manifests, env files, etcd config files and
 * systemd units. Plain Node (no `vscode`); the editor's CodeLens, diagnostics and quick fixes and
 * the `etcd-backup manifest` CLI are thin layers over this module.
 *
 *   const parsed = parseEtcdFile(text, fileName);          // uniform view with source ranges
 *   effectiveSettings(parsed)                              // name, data dir, URLs, TLS files ...
 *   clusterFromEtcdFile(parsed, filePath)                  // draft ClusterConfig + warnings
 *   diagnoseEtcdFile(parsed)                               // [{range, severity, code, message, fix?}]
 *   setDataDir(parsed, '/var/lib/etcd-restored')           // {ok, edits, changes} | {ok: false, error}
 *   setInitialClusterState(parsed, 'existing')
 *   applyEdits(text, edits)                                // the new text
 *
 * Offsets are string indices into `parsed.text` (VS Code: `document.positionAt(offset)`).
 */
export * from './types';
export { parseEtcdFile } from './parse';
export { effectiveSettings, etcdFileAnchors, hostPathOf, mountFor, lastSetting, settingsNamed, isInside } from './settings';
export type { EtcdFileAnchors } from './settings';
export { clusterFromEtcdFile } from './import';
export type { ImportOptions, ImportResult } from './import';
export { applyEdits, applyEditResult, setDataDir, setInitialClusterState, setSetting, editBlocker } from './edits';
export type { EditOptions, InitialClusterState } from './edits';
export { ETCD_34_FLAGS, ETCD_35_FLAGS, BOOLEAN_FLAGS, isKnownFlag, closestFlag, editDistance, envNameOf, flagNameOfEnv } from './flags';
export { diagnoseEtcdFile } from './diagnostics';
export type { DiagnoseOptions } from './diagnostics';
export { lineNumber, minimalEdit } from './text';
export { unifiedDiff } from './diff';
export { replaceFileContent } from './writeFile';
