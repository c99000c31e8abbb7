/**
 * Plain helpers for importing a cluster from an etcd file and for the offers to write into a
 * member's files after a member is replaced or restored: which files look like etcd's, which of
 * them belong to a member (ranked), the one sentence a file that cannot be imported gets, and
 * several edits of src/core/etcdFiles applied one after another as one change.
 */
import { posix } from 'path';
import { clusterNameProblem } from './config';
import { KUBEADM_MANIFEST } from './etcdFileNames';
import { applyEdits, effectiveSettings, lineNumber, minimalEdit, parseEtcdFile, setInitialClusterState, setSetting } from './etcdFiles';
import type { EditResult, EtcdFileKind, ParsedEtcdFile, TextEdit } from './etcdFiles';

export { KUBEADM_MANIFEST, looksLikeEtcdFileName } from './etcdFileNames';

export interface CandidateFile {
  path: string;
  text: string;
}

export interface RankedCandidate {
  path: string;
  kind: EtcdFileKind;
  /** The member name the file starts etcd with (`--name` / `ETCD_NAME`). */
  memberName?: string;
  /** Its data dir as etcd sees it. */
  dataDir?: string;
  /** The file names the member asked for. */
  matchesMember: boolean;
  /** One of the preferred paths (kubeadm's manifest, the file the command started from). */
  preferred: boolean;
}

const KIND_ORDER: Record<EtcdFileKind, number> = { manifest: 0, env: 1, config: 2, systemd: 3, unknown: 4 };

/**
 * The etcd files among `files`, best first: those whose `--name` / `ETCD_NAME` is `memberName`,
 * then the preferred paths, then manifests, env files, config files, units; then by path. Files
 * that are not etcd's or cannot be edited (YAML that does not parse, no etcd container, etcd run
 * through a shell script, two etcd containers) are left out.
 */
export function rankCandidates(
  files: readonly CandidateFile[],
  opts: { memberName?: string; preferred?: readonly string[] } = {},
): RankedCandidate[] {
  const seen = new Set<string>();
  const out: RankedCandidate[] = [];
  for (const f of files) {
    if (seen.has(f.path)) continue;
    seen.add(f.path);
    const parsed = parseEtcdFile(f.text, posix.basename(f.path));
    // offered for edits: a file that is analysed but never edited (etcd through a shell, two etcd containers) is left out too
    if (parsed.kind === 'unknown' || parsed.problems.some((p) => p.fatal || p.blocksEdits)) continue;
    // A unit counts only when its ExecStart= runs etcd.
    if (parsed.kind === 'systemd' && !parsed.flagList && !parsed.settings.length) continue;
    const eff = effectiveSettings(parsed);
    out.push({
      path: f.path,
      kind: parsed.kind,
      memberName: eff.name,
      dataDir: eff.dataDir,
      matchesMember: Boolean(opts.memberName) && eff.name === opts.memberName,
      preferred: (opts.preferred ?? []).includes(f.path),
    });
  }
  return out.sort(
    (a, b) =>
      Number(b.matchesMember) - Number(a.matchesMember) ||
      Number(b.preferred) - Number(a.preferred) ||
      KIND_ORDER[a.kind] - KIND_ORDER[b.kind] ||
      (a.path < b.path ? -1 : a.path > b.path ? 1 : 0),
  );
}

/**
 * The sentence for a file that cannot be imported or edited (a fatal parse problem), saying what
 * to do; undefined when the file can be read as etcd's.
 */
export function fileProblem(parsed: ParsedEtcdFile, filePath: string, action = 'import'): string | undefined {
  const fatal = parsed.problems.find((p) => p.fatal) ?? (action === 'import' ? undefined : parsed.problems.find((p) => p.blocksEdits));
  if (!fatal) return undefined;
  const base = posix.basename(filePath.replace(/\\/g, '/')) || 'The file';
  const what = action === 'import' ? `Cannot import ${base}` : `Cannot edit ${base}`;
  const again = action === 'import' ? 'run the import again' : 'try again';
  switch (fatal.code) {
    case 'yaml-error': {
      const detail = fatal.message
        .replace(/^The YAML does not parse:\s*/, '')
        .replace(/\s*at line \d+, column \d+:?\s*\.?$/, '')
        .replace(/[.:]+$/, '');
      return (
        `${what}: its YAML does not parse at line ` +
        `${lineNumber(parsed.text, fatal.range.start)} (${detail}); fix that line and ${again}.`
      );
    }
    case 'no-etcd-container':
      return `${what}: the Pod has no container that runs etcd; choose etcd's own static pod manifest (kubeadm: ${KUBEADM_MANIFEST}).`;
    case 'not-a-pod':
      return (
        `${what}: it is YAML but not a Pod; choose etcd's static pod manifest ` +
        `(kind: Pod, kubeadm: ${KUBEADM_MANIFEST}) or an etcd config file.`
      );
    case 'not-an-etcd-file':
      return (
        `${what}: it is not an etcd file; choose etcd's static pod manifest (etcd.yaml), an ` +
        `etcd.env with ETCD_* variables, an etcd config file or the systemd unit that runs etcd.`
      );
    default:
      return `${what}: ${fatal.message.replace(/\.$/, '')}; fix it and ${again}.`;
  }
}

/**
 * Apply edits one after another, each computed on the text the previous one produced, and
 * return the result as one minimal edit of the original text (so the editor shows one change
 * that one undo takes back). The first refusal stops it with its sentence.
 */
export function editSequence(
  parsed: ParsedEtcdFile,
  steps: readonly ((p: ParsedEtcdFile) => EditResult)[],
): { ok: true; text: string; edit?: TextEdit; changes: string[] } | { ok: false; error: string } {
  let current = parsed;
  const changes: string[] = [];
  for (const step of steps) {
    const r = step(current);
    if (!r.ok) return { ok: false, error: r.error };
    if (!r.edits.length) continue;
    changes.push(...r.changes);
    current = parseEtcdFile(applyEdits(current.text, r.edits), parsed.fileName);
  }
  return { ok: true, text: current.text, edit: minimalEdit(0, parsed.text, current.text), changes };
}

/** What a replacement member must start with (from `etcdctl member add`'s answer). */
export interface MemberStartSettings {
  name?: string;
  initialCluster?: string;
  initialAdvertisePeerUrls?: string;
}

/** From ReplaceMemberResult.env: ETCD_NAME, ETCD_INITIAL_CLUSTER, ETCD_INITIAL_ADVERTISE_PEER_URLS. */
export function startSettingsOfEnv(env: Readonly<Record<string, string>>): MemberStartSettings {
  return {
    name: env.ETCD_NAME || undefined,
    initialCluster: env.ETCD_INITIAL_CLUSTER || undefined,
    initialAdvertisePeerUrls: env.ETCD_INITIAL_ADVERTISE_PEER_URLS || undefined,
  };
}

/**
 * The edits that make a file start a replacement member: `initial-cluster-state` existing and
 * `initial-cluster`, and `name` / `initial-advertise-peer-urls` when they differ (a setting that
 * already has the value is left alone; one that is missing is added in the file's style).
 */
export function memberStartSteps(s: MemberStartSettings): ((p: ParsedEtcdFile) => EditResult)[] {
  const steps: ((p: ParsedEtcdFile) => EditResult)[] = [(p) => setInitialClusterState(p, 'existing')];
  if (s.initialCluster) steps.push((p) => setSetting(p, 'initial-cluster', s.initialCluster as string));
  if (s.name) steps.push((p) => setSetting(p, 'name', s.name as string));
  if (s.initialAdvertisePeerUrls) steps.push((p) => setSetting(p, 'initial-advertise-peer-urls', s.initialAdvertisePeerUrls as string));
  return steps;
}

/** A cluster name from a member name: characters settings refuse become "-", then made unique ("-2", "-3" ...). */
export function uniqueClusterName(wanted: string, existing: readonly string[]): string {
  let base =
    wanted
      .trim()
      .replace(/[^A-Za-z0-9 ._-]+/g, '-')
      .replace(/^[^A-Za-z0-9]+/, '')
      .slice(0, 60) || 'etcd';
  if (clusterNameProblem(base, [])) base = 'etcd';
  const taken = new Set(existing.map((e) => e.trim().toLowerCase()));
  if (!taken.has(base.toLowerCase())) return base;
  for (let i = 2; ; i++) {
    const n = `${base}-${i}`;
    if (!taken.has(n.toLowerCase())) return n;
  }
}

/** Where an imported cluster's snapshots go by default. */
export function defaultSnapshotDir(clusterName: string): string {
  return `/var/backups/etcd/${clusterName.trim().replace(/[^A-Za-z0-9._-]+/g, '-') || 'etcd'}`;
}
