/**
 * etcd's files, understood and edited: static pod manifests, env files, etcd config files and
 * systemd units. Plain Node (no `vscode`); the editor's CodeLens, diagnostics and quick fixes and
 * the `etcd-backup manifest` CLI are thin layers over this module.
 *
 *   const parsed = parseEtcdFile(text, fileName);          // uniform view with source ranges; never throws
 *   effectiveSettings(parsed, related?)                    // name, data dir (and the node's), URLs, TLS files ...
 *   etcdFileAnchors(parsed)                                // where CodeLenses go
 *   clusterFromEtcdFile(parsed, filePath, {exists?})       // {cluster?: draft ClusterConfig, warnings}
 *   diagnoseEtcdFile(parsed, {related?})                   // [{range, severity, code, message, fix?: {title, edits}}]
 *   setDataDir(parsed, '/var/lib/etcd-restored', {related?, keepContainerPath?})
 *   setInitialClusterState(parsed, 'existing', {related?}) // {ok: true, edits, changes} | {ok: false, error}
 *   applyEdits(text, edits)                                // the new text
 *   unifiedDiff(old, new, name), replaceFileContent(path, text)
 *
 * Offsets are string indices into `parsed.text`, `end` exclusive (VS Code:
 * `new Range(doc.positionAt(e.offset), doc.positionAt(e.offset + e.length))`).
 * `related`: for a unit, its parsed `EnvironmentFile=` targets; for an env file, the parsed unit
 * that reads it (conflicts between the two; never adding a setting the other file has).
 */
export * from './types';
export { parseEtcdFile } from './parse';
export { effectiveSettings, etcdFileAnchors, hostPathOf, mountFor, lastSetting, settingsNamed, isInside } from './settings';
export type { EtcdFileAnchors } from './settings';
export { clusterFromEtcdFile } from './import';
export type { ImportOptions, ImportResult } from './import';
export { applyEdits, setDataDir, setInitialClusterState, setSetting, editBlocker } from './edits';
export type { EditOptions, InitialClusterState } from './edits';
export { ETCD_34_FLAGS, ETCD_35_FLAGS, BOOLEAN_FLAGS, isKnownFlag, closestFlag, editDistance, envNameOf, flagNameOfEnv } from './flags';
export { diagnoseEtcdFile, joiningReason } from './diagnostics';
export type { DiagnoseOptions, KnownCluster } from './diagnostics';
export { lineNumber, minimalEdit } from './text';
export { unifiedDiff } from './diff';
export { replaceFileContent } from './writeFile';
