/**
 * What the editor shows on an etcd file, decided without `vscode`: whether a document is an etcd
 * file at all (by content, with the name only widening what is reported), where the CodeLens
 * actions go, and which directories on the node to offer for "Move data dir…".
 */
import { promises as fs } from 'fs';
import { basename, dirname, join } from 'path';
import { editBlocker } from './edits';
import { effectiveSettings, etcdFileAnchors, lastSetting } from './settings';
import { ParsedEtcdFile, TextRange } from './types';

/** Names that say "this is etcd's" (etcd.yaml, etcd-member.yaml, etcd.env, etcd.conf, etcd.service ...). */
export function isEtcdFileName(fileName: string | undefined): boolean {
  const base = basename(fileName ?? '');
  return /^etcd[^/\\]*\.(ya?ml|env|conf|service)$/i.test(base) || base === 'etcd';
}

/** Problems that only say "this is not an etcd file": on a file whose name does not claim to be one, they are noise. */
const NOT_ETCD = new Set(['not-an-etcd-file', 'not-a-pod', 'no-etcd-container']);

/**
 * Should the editor report anything on this file? Files the selectors catch by pattern only
 * (`manifests/*.yaml`, `*.env`, `*.service`) count when their content is etcd's: an etcd Pod, an
 * env file with `ETCD_*` variables, etcd's config file, a unit that runs etcd. A file named like
 * etcd's (etcd.yaml, etcd.env ...) always counts, so that a broken one says why.
 */
export function isEditorRelevant(parsed: ParsedEtcdFile, fileName?: string): boolean {
  if (isEtcdFileName(fileName ?? parsed.fileName)) return true;
  if (parsed.kind === 'unknown') return false;
  if (parsed.problems.some((p) => p.fatal && p.code === 'yaml-error')) {
    // YAML that does not parse but reads like an etcd Pod (a command item `etcd`) or etcd's config file.
    return parsed.kind === 'config' || /(^|[\s"'[,-])etcd([\s"',\]]|$)/m.test(parsed.text);
  }
  if (parsed.problems.some((p) => p.fatal && NOT_ETCD.has(p.code))) return false;
  // An env file counts with at least one ETCD_* variable; a unit when its ExecStart= runs etcd (or it sets ETCD_*).
  if (parsed.kind === 'env') return parsed.settings.length > 0;
  if (parsed.kind === 'systemd') return parsed.settings.length > 0 || Boolean(parsed.flagList);
  return true;
}

export type LensAction = 'moveDataDir' | 'setInitialClusterState' | 'addCluster' | 'restoreForMember';

/** One CodeLens: where, what it says, and what the command needs. */
export interface LensAnchor {
  action: LensAction;
  /** Where the lens sits (its line is what matters). */
  range: TextRange;
  title: string;
  /** For setInitialClusterState. */
  state?: 'new' | 'existing';
}

/** The arguments of "Restore a snapshot for this member…" as the file gives them. */
export interface MemberOfFile {
  name?: string;
  peerURL?: string;
  initialCluster?: string;
  /** The data dir on the node (the one a restore replaces). */
  dataDir?: string;
}

export function memberOfFile(parsed: ParsedEtcdFile, related: readonly ParsedEtcdFile[] = []): MemberOfFile {
  const eff = effectiveSettings(parsed, related);
  const out: MemberOfFile = {};
  if (eff.name) out.name = eff.name;
  if (eff.initialAdvertisePeerUrls[0]) out.peerURL = eff.initialAdvertisePeerUrls[0];
  if (eff.initialCluster) out.initialCluster = eff.initialCluster;
  const dir = eff.hostDataDir ?? eff.dataDir;
  if (dir) out.dataDir = dir;
  return out;
}

const TOP: TextRange = { start: 0, end: 0 };

/**
 * The CodeLenses of a file, in source order: none when the file cannot be edited safely (YAML
 * that does not parse, a Pod without an etcd container, not an etcd file).
 */
export function lensAnchors(parsed: ParsedEtcdFile): LensAnchor[] {
  if (editBlocker(parsed)) return [];
  const out: LensAnchor[] = [
    { action: 'addCluster', range: TOP, title: 'Add as cluster' },
    { action: 'restoreForMember', range: TOP, title: 'Restore a snapshot for this member…' },
  ];
  // Positions from etcdFileAnchors; a missing initial-cluster-state gets its lenses at the top (with the file's other actions).
  const anchors = etcdFileAnchors(parsed);
  if (anchors.dataDir) {
    out.push({ action: 'moveDataDir', range: anchors.dataDir, title: 'Move data dir…' });
  } else if (parsed.kind !== 'manifest') {
    // env / config / unit: setDataDir adds the setting; a Pod without --data-dir is refused by core.
    out.push({ action: 'moveDataDir', range: TOP, title: 'Set data dir…' });
  }
  const state = lastSetting(parsed, 'initial-cluster-state');
  const where = state && !anchors.initialClusterStateMissing && anchors.initialClusterState ? anchors.initialClusterState : TOP;
  for (const s of ['existing', 'new'] as const) {
    if (state?.value === s) continue;
    out.push({ action: 'setInitialClusterState', range: where, title: `Set initial-cluster-state: ${s}`, state: s });
  }
  return out.sort((a, b) => a.range.start - b.range.start);
}

/** A directory to offer for "Move data dir…". */
export interface DataDirCandidate {
  path: string;
  /** When `member/` was last changed (ms). */
  mtimeMs: number;
  /** Newer than the current data dir (or the current one is gone): what a restore just wrote. */
  newer: boolean;
  /** Looks like a dir moved aside by a restore (`<dir>.old-<time>`, `*.old`, `*.bak`). */
  movedAside: boolean;
}

async function memberMtime(dir: string): Promise<number | undefined> {
  try {
    const st = await fs.stat(join(dir, 'member'));
    return st.isDirectory() ? st.mtimeMs : undefined;
  } catch {
    return undefined;
  }
}

/**
 * etcd data dirs beside the current one (siblings in its parent that hold `member/`), the
 * restored ones first: newer than the current data dir and not moved aside, newest first; then
 * the others, newest first. The current dir itself is not offered.
 */
export async function dataDirCandidates(current: string): Promise<DataDirCandidate[]> {
  const cur = current.replace(/(.)\/+$/, '$1');
  const parent = dirname(cur);
  let names: string[];
  try {
    names = await fs.readdir(parent);
  } catch {
    return [];
  }
  const curTime = await memberMtime(cur);
  const out: DataDirCandidate[] = [];
  for (const name of names.sort()) {
    const p = join(parent, name);
    if (p === cur) continue;
    const t = await memberMtime(p);
    if (t === undefined) continue;
    const movedAside = /\.(old|bak|orig)([-._].*)?$/i.test(name);
    out.push({ path: p, mtimeMs: t, newer: curTime === undefined || t > curTime, movedAside });
  }
  const rank = (c: DataDirCandidate): number => (c.newer && !c.movedAside ? 0 : 1);
  return out.sort((a, b) => rank(a) - rank(b) || b.mtimeMs - a.mtimeMs);
}
