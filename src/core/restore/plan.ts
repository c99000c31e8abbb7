/**
 * Planning a cluster restore: which members the new cluster has (names and peer URLs, taken
 * from the snapshot's sidecar or from the member list stored inside the snapshot, then edited
 * by the user), a fresh `--initial-cluster-token`, and the flags each member is restored with.
 * Every check etcd would make at restore or start time is made here first, with a sentence that
 * says what to change.
 */
import { randomBytes } from 'crypto';

/** One member of the restored cluster. */
export interface PlannedMember {
  /** `--name` / `ETCD_NAME`. */
  name: string;
  /** `--initial-advertise-peer-urls`, e.g. `https://10.0.0.11:2380`. */
  peerURLs: string[];
  /** Client URLs, for the runbook's `endpoint status` (informative). */
  clientURLs?: string[];
  /** Hex id in the old cluster (informative: restore gives every member a new id). */
  oldId?: string;
}

/** Where the proposed members came from. */
export type PlanSource = 'sidecar' | 'snapshot' | 'manual';

export interface RestorePlan {
  members: PlannedMember[];
  /** A new token: restore always makes a new logical cluster. */
  initialClusterToken: string;
  source: PlanSource;
}

/** The flags `snapshot restore` needs for one member of a plan. */
export interface MemberRestoreFlags {
  name: string;
  initialCluster: string;
  initialAdvertisePeerUrls: string;
  initialClusterToken: string;
}

function pad(n: number, w = 2): string {
  return String(n).padStart(w, '0');
}

/** `etcd-restore-20260124-a1b2c3`: the date (UTC) and 6 random hex digits. */
export function newClusterToken(now: Date = new Date(), random: string = randomBytes(3).toString('hex')): string {
  return `etcd-restore-${now.getUTCFullYear()}${pad(now.getUTCMonth() + 1)}${pad(now.getUTCDate())}-${random}`;
}

/**
 * A peer URL as etcd accepts it (`types.NewURLs`): http or https, host and port, no path, query
 * or fragment. Returns the normalized URL or the problem as a sentence fragment.
 */
export function checkPeerUrl(raw: string): { url?: string; problem?: string } {
  const s = raw.trim();
  if (!s) {
    return { problem: 'an empty peer URL' };
  }
  if (!/^[a-z][a-z0-9+.-]*:\/\//i.test(s)) {
    return { problem: `"${s}" must start with http:// or https://` };
  }
  let u: URL;
  try {
    u = new URL(s);
  } catch {
    return { problem: `"${s}" is not a URL (give e.g. https://10.0.0.11:2380)` };
  }
  if (u.protocol !== 'http:' && u.protocol !== 'https:') {
    return { problem: `"${s}" must start with http:// or https://` };
  }
  if (!u.hostname) {
    return { problem: `"${s}" has no host` };
  }
  // URL drops a port equal to the scheme's default; etcd wants it written, so look at the text.
  const hostPort = /^[a-z]+:\/\/([^/?#]*)/i.exec(s)?.[1] ?? '';
  if (!/:\d+$/.test(hostPort)) {
    return { problem: `"${s}" has no port (etcd needs host:port, e.g. https://10.0.0.11:2380)` };
  }
  if (u.username || u.password) {
    return { problem: `"${s}" must not contain a user name or password` };
  }
  if ((u.pathname && u.pathname !== '/') || u.search || u.hash) {
    return { problem: `"${s}" must not have a path, query or fragment (etcd: "URL must not contain a path")` };
  }
  const port = u.port || (u.protocol === 'https:' ? '443' : '80');
  return { url: `${u.protocol}//${u.hostname}:${port}` };
}

/** `name=url` for every peer URL of every member, in order (what `--initial-cluster` takes). */
export function formatInitialCluster(members: Pick<PlannedMember, 'name' | 'peerURLs'>[]): string {
  const parts: string[] = [];
  for (const m of members) {
    for (const u of m.peerURLs) {
      parts.push(`${m.name}=${u.trim()}`);
    }
  }
  return parts.join(',');
}

/**
 * Parse `--initial-cluster`: `n1=https://a:2380,n2=https://b:2380`; a name that appears twice
 * has several peer URLs. Problems are sentences.
 */
export function parseInitialCluster(text: string): { members: PlannedMember[]; problems: string[] } {
  const members: PlannedMember[] = [];
  const problems: string[] = [];
  const byName = new Map<string, PlannedMember>();
  const items = text
    .split(',')
    .map((x) => x.trim())
    .filter(Boolean);
  if (!items.length) {
    problems.push(
      '--initial-cluster is empty: give every member as name=peerURL, separated ' +
        'by commas, e.g. n1=https://10.0.0.11:2380,n2=https://10.0.0.12:2380.',
    );
  }
  for (const item of items) {
    const eq = item.indexOf('=');
    if (eq <= 0) {
      problems.push(`"${item}" in --initial-cluster is not name=peerURL (e.g. n1=https://10.0.0.11:2380).`);
      continue;
    }
    const name = item.slice(0, eq).trim();
    const url = item.slice(eq + 1).trim();
    let m = byName.get(name);
    if (!m) {
      m = { name, peerURLs: [] };
      byName.set(name, m);
      members.push(m);
    }
    m.peerURLs.push(url);
  }
  return { members, problems };
}

/** Token rules: not empty, no whitespace or control characters, no `,` or `=`. */
export function checkClusterToken(token: string): string | undefined {
  if (!token.trim()) {
    return (
      'The --initial-cluster-token is empty: give a new token, e.g. ' +
      'etcd-restore-20260124-a1b2c3 (every member of the restored cluster gets the same one).'
    );
  }
  if (/[\s\x00-\x1f\x7f,=]/.test(token)) {
    return (
      `The --initial-cluster-token "${token}" contains spaces, commas, ` +
      `"=" or control characters: use letters, digits, "-", "_" and ".".`
    );
  }
  return undefined;
}

/** A member name etcd and the runbook can take: not empty, no `,` `=` or control characters. */
export function checkMemberName(name: string): string | undefined {
  if (!name.trim()) {
    return 'empty';
  }
  if (name !== name.trim() || /[\x00-\x1f\x7f,=]/.test(name)) {
    return `"${name}" contains "," "=" control characters or surrounding spaces`;
  }
  return undefined;
}

/**
 * Every problem of a plan, as sentences (empty when it can be restored): at least one member,
 * every member named and named once, every peer URL valid and used by one member only, and a
 * valid token.
 */
export function validatePlan(plan: Pick<RestorePlan, 'members' | 'initialClusterToken'>): string[] {
  const problems: string[] = [];
  if (!plan.members.length) {
    problems.push('The plan has no member: the restored cluster needs at least one (name and peer URL).');
  }
  const names = new Map<string, number>();
  const urls = new Map<string, string>();
  plan.members.forEach((m, i) => {
    const label = m.name.trim() ? `"${m.name}"` : `number ${i + 1}${m.peerURLs.length ? ` (${m.peerURLs.join(', ')})` : ''}`;
    const nameProblem = checkMemberName(m.name);
    if (nameProblem === 'empty') {
      problems.push(
        `Member ${label} has no name: give it the --name it runs with (members added but never started have none in the snapshot).`,
      );
    } else if (nameProblem) {
      problems.push(`Member name ${nameProblem}: use letters, digits, "-", "_" and ".".`);
    }
    if (m.name.trim()) {
      names.set(m.name, (names.get(m.name) ?? 0) + 1);
    }
    if (!m.peerURLs.length) {
      problems.push(`Member ${label} has no peer URL: give the URL it advertises to its peers, e.g. https://10.0.0.11:2380.`);
    }
    for (const raw of m.peerURLs) {
      const c = checkPeerUrl(raw);
      if (c.problem) {
        problems.push(`Peer URL of member ${label}: ${c.problem}.`);
      } else if (c.url) {
        const other = urls.get(c.url);
        if (other !== undefined && other !== m.name) {
          problems.push(`Peer URL ${c.url} is given to both "${other}" and "${m.name}": each member needs its own.`);
        }
        urls.set(c.url, m.name);
      }
    }
  });
  for (const [name, count] of names) {
    if (count > 1) {
      problems.push(`The member name "${name}" is used ${count} times: every member needs its own name.`);
    }
  }
  const tokenProblem = checkClusterToken(plan.initialClusterToken);
  if (tokenProblem) {
    problems.push(tokenProblem);
  }
  return problems;
}

/** The flags for one member of a valid plan. Throws when the member is not in it. */
export function memberFlags(plan: Pick<RestorePlan, 'members' | 'initialClusterToken'>, name: string): MemberRestoreFlags {
  const m = plan.members.find((x) => x.name === name);
  if (!m) {
    throw new Error(`member name not in --initial-cluster: "${name}" is not one of ${plan.members.map((x) => x.name).join(', ')}.`);
  }
  return {
    name: m.name,
    initialCluster: formatInitialCluster(plan.members),
    initialAdvertisePeerUrls: m.peerURLs.map((u) => u.trim()).join(','),
    initialClusterToken: plan.initialClusterToken,
  };
}

/**
 * Check one member's restore flags the way etcd does at restore time, before anything is
 * written: a valid `--initial-cluster`, the member's `--name` in it ("member name not in
 * --initial-cluster"), its URLs there equal to `--initial-advertise-peer-urls`, every URL valid,
 * a valid token. Returns the sentences (empty when fine).
 */
export function checkMemberFlags(f: MemberRestoreFlags): string[] {
  const problems: string[] = [];
  const nameProblem = checkMemberName(f.name);
  if (nameProblem === 'empty') {
    problems.push('--name is empty: give the name of the member restored here (its ETCD_NAME).');
  } else if (nameProblem) {
    problems.push(`--name ${nameProblem}: use letters, digits, "-", "_" and ".".`);
  }
  const parsed = parseInitialCluster(f.initialCluster);
  problems.push(...parsed.problems);
  const planProblems = validatePlan({ members: parsed.members, initialClusterToken: f.initialClusterToken }).filter(
    (p) => !p.startsWith('The plan has no member'),
  );
  problems.push(...planProblems.map((p) => p.replace(/^Member /, 'In --initial-cluster, member ')));
  const advertised = f.initialAdvertisePeerUrls
    .split(',')
    .map((x) => x.trim())
    .filter(Boolean);
  if (!advertised.length) {
    problems.push("--initial-advertise-peer-urls is empty: give this member's peer URL, e.g. https://10.0.0.11:2380.");
  }
  const advNorm: string[] = [];
  for (const a of advertised) {
    const c = checkPeerUrl(a);
    if (c.problem) {
      problems.push(`--initial-advertise-peer-urls: ${c.problem}.`);
    } else {
      advNorm.push(c.url as string);
    }
  }
  if (!nameProblem && parsed.members.length) {
    const me = parsed.members.find((m) => m.name === f.name);
    if (!me) {
      problems.push(
        `member name not in --initial-cluster: "${f.name}" is not one of ${parsed.members.map((m) => `"${m.name}"`).join(', ')}. ` +
          `Use this member's name exactly as it appears there, or add it to --initial-cluster.`,
      );
    } else if (advertised.length && advNorm.length === advertised.length && me.peerURLs.every((u) => checkPeerUrl(u).url)) {
      const inCluster = me.peerURLs.map((u) => checkPeerUrl(u).url ?? u).sort();
      const adv = [...advNorm].sort();
      if (inCluster.join(',') !== adv.join(',')) {
        problems.push(
          `--initial-cluster gives "${f.name}" the peer URL(s) ${me.peerURLs.join(', ')} but --initial-advertise-peer-urls ` +
            `is ${advertised.join(', ')}: they must be the same (etcd refuses the restore otherwise).`,
        );
      }
    }
  }
  return [...new Set(problems)];
}

/** A member as the snapshot's sidecar or the snapshot's own member list gives it. */
export interface KnownMember {
  id?: string;
  name?: string;
  peerURLs?: string[];
  clientURLs?: string[];
  isLearner?: boolean;
}

/**
 * Members proposed for the restored cluster from what the snapshot says (learners are left out:
 * a restored cluster starts with voting members only; add learners again afterwards). Members
 * without a name keep an empty name so the user is asked for it.
 */
export function proposeMembers(known: KnownMember[]): PlannedMember[] {
  return known
    .filter((m) => !m.isLearner)
    .map((m) => ({
      name: m.name ?? '',
      peerURLs: [...(m.peerURLs ?? [])],
      clientURLs: m.clientURLs?.length ? [...m.clientURLs] : undefined,
      oldId: m.id,
    }));
}
