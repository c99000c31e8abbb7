/**
 * Where a restore plan's members come from, and which of them is this machine:
 * 1. the snapshot's sidecar (`<name>.json` beside `<name>.db`, written by snapshot save: the
 *    member list with names, peer and client URLs);
 * 2. the member list stored inside the snapshot (its `members` bucket, via the snapshot reader);
 * 3. otherwise the user types them.
 */
import { promises as fs } from 'fs';
import { hostname, networkInterfaces } from 'os';
import { dirname, join } from 'path';
import { readSidecarFor, sidecarCandidates } from '../snapshot/sidecar';
import { readSnapshotMembers } from '../snapshot/inspect';
import { checkPeerUrl, KnownMember, PlannedMember, PlanSource, proposeMembers } from './plan';

/** Candidate sidecar paths for a snapshot file: `x.json` for `x.db`, and `x.db.json`. */
export function sidecarPaths(snapshot: string): string[] {
  return sidecarCandidates(snapshot);
}

/** The sidecar's fields the restore uses (the snapshot feature writes more). */
export interface SidecarInfo {
  path: string;
  members: KnownMember[];
  clusterId?: string;
  revision?: number;
  sha256?: string;
}

/** Read the snapshot's sidecar (../snapshot/sidecar), if there is one with a member list. */
export async function readSidecar(snapshot: string): Promise<SidecarInfo | undefined> {
  const s = await readSidecarFor(snapshot, { needMembers: true });
  if (!s) {
    return undefined;
  }
  return {
    path: s.path,
    members: s.members.map((m) => ({ ...m, id: m.id || undefined })),
    clusterId: s.clusterId,
    revision: s.revision,
    sha256: s.sha256,
  };
}

export interface MemberProposal {
  members: PlannedMember[];
  source: PlanSource;
  /** Where they came from, for the UI (the sidecar's path, "the snapshot's members bucket"). */
  from?: string;
  /** Learners in the snapshot, left out of the restored cluster (add them again afterwards). */
  learnersLeftOut: string[];
}

/** The member list stored in the snapshot's `members` bucket, by the native reader. */
export async function snapshotMembers(path: string): Promise<KnownMember[]> {
  return readSnapshotMembers(path);
}

/**
 * The members to propose: the sidecar's, else those stored in the snapshot (its `members`
 * bucket, read natively unless another reader is given), else none (the user types them).
 */
export async function proposeFromSnapshot(
  snapshot: string,
  readSnapshotMembers: ((path: string) => Promise<KnownMember[]>) | undefined = snapshotMembers,
): Promise<MemberProposal> {
  const leftOut = (known: KnownMember[]): string[] => known.filter((m) => m.isLearner).map((m) => m.name || m.id || '?');
  const sidecar = await readSidecar(snapshot);
  if (sidecar) {
    return { members: proposeMembers(sidecar.members), source: 'sidecar', from: sidecar.path, learnersLeftOut: leftOut(sidecar.members) };
  }
  if (readSnapshotMembers) {
    try {
      const known = await readSnapshotMembers(snapshot);
      if (known.length) {
        return {
          members: proposeMembers(known),
          source: 'snapshot',
          from: "the snapshot's members bucket",
          learnersLeftOut: leftOut(known),
        };
      }
    } catch {
      // an unreadable member list is not fatal: the user types the members
    }
  }
  return { members: [], source: 'manual', learnersLeftOut: [] };
}

/** This machine's names and addresses (interfaces, host name, loopback). */
export function localAddresses(): Set<string> {
  const out = new Set<string>(['localhost', '127.0.0.1', '::1']);
  const h = hostname();
  out.add(h.toLowerCase());
  out.add(h.split('.')[0].toLowerCase());
  for (const list of Object.values(networkInterfaces())) {
    for (const a of list ?? []) {
      out.add(a.address.toLowerCase());
    }
  }
  return out;
}

/** Members whose peer URL host is one of this machine's addresses or names. */
export function membersOnThisMachine(
  members: Pick<PlannedMember, 'name' | 'peerURLs'>[],
  addresses: Set<string> = localAddresses(),
): string[] {
  return members
    .filter((m) =>
      m.peerURLs.some((u) => {
        const url = checkPeerUrl(u).url;
        if (!url) return false;
        const host = new URL(url).hostname.replace(/^\[|\]$/g, '').toLowerCase();
        return addresses.has(host);
      }),
    )
    .map((m) => m.name);
}

/** Where a restore on this machine should go, by default. */
export interface DataDirSuggestion {
  /** The data dir etcd uses now (to be moved aside), when one is found. */
  oldDataDir?: string;
  /** A new, empty or absent directory for the restored data. */
  dataDir: string;
}

async function isDataDir(p: string): Promise<boolean> {
  try {
    return (await fs.stat(join(p, 'member'))).isDirectory();
  } catch {
    return false;
  }
}

async function freeDir(p: string): Promise<boolean> {
  try {
    return (await fs.readdir(p)).length === 0;
  } catch (err) {
    return (err as NodeJS.ErrnoException).code === 'ENOENT';
  }
}

/**
 * Suggest the directories: the current data dir (given, or the first of the usual places that
 * holds `member/`), and beside it `<dir>-from-backup` (or a dated variant when that is taken),
 * as the Kubernetes docs do.
 */
export async function suggestDataDirs(current?: string, now: Date = new Date()): Promise<DataDirSuggestion> {
  let old = current;
  if (!old) {
    for (const c of ['/var/lib/etcd', '/var/lib/etcd/default', '/var/lib/etcd/default.etcd']) {
      if (await isDataDir(c)) {
        old = c;
        break;
      }
    }
  }
  const base = `${(old ?? '/var/lib/etcd').replace(/\/+$/, '')}-from-backup`;
  let dataDir = base;
  if (!(await freeDir(base))) {
    const d = now.toISOString().slice(0, 10).replace(/-/g, '');
    dataDir = `${base}-${d}`;
    for (let i = 2; !(await freeDir(dataDir)); i++) {
      dataDir = `${base}-${d}-${i}`;
    }
  }
  if (old && !(await fs.stat(dirname(old)).catch(() => undefined))) {
    old = undefined;
  }
  return { oldDataDir: old && (await fs.stat(old).catch(() => undefined)) ? old : undefined, dataDir };
}
