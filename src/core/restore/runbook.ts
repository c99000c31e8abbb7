/**
 * The restore runbook: a Markdown document with one copy-pasteable shell block per member
 * (stop etcd, move the data dir aside, restore with that member's flags, owner and mode, point
 * the manifest/env at the new dir, start, verify), for the machines where VS Code is not.
 * Every value is quoted for a POSIX shell; nothing here runs anything.
 */
import { shellQuote } from '../etcdctlCommand';
import { restoreArgs, RestoreFlags, RestoreToolKind } from '../tools';
import { checkPeerUrl, memberFlags, RestorePlan } from './plan';

/** How etcd runs on a member's machine. */
export type EtcdRuntime = 'systemd' | 'static-pod';

/** Where things are on one member's machine. */
export interface RunbookMemberSetup {
  /** Where the restored data dir goes. */
  dataDir: string;
  /** The data dir etcd uses now, moved aside (default: `dataDir`). */
  oldDataDir?: string;
  /** Default `systemd`. */
  runtime?: EtcdRuntime;
  /** systemd unit (default `etcd`). */
  unit?: string;
  /** Static pod manifest (default `/etc/kubernetes/manifests/etcd.yaml`). */
  manifestPath?: string;
  /** env file or config file that sets the data dir (systemd), pointed at the new dir. */
  envFile?: string;
  /** `user:group` for `chown -R` (default `etcd:etcd`; `root:root` for a kubeadm static pod). */
  owner?: string;
  /** Where the snapshot file is on this machine (default: the runbook's `snapshotPath`). */
  snapshotPath?: string;
}

export interface RunbookInput {
  plan: Pick<RestorePlan, 'members' | 'initialClusterToken'>;
  /** The snapshot file as it will be on every machine (copy it there first). */
  snapshotPath: string;
  /** Per member name; a member without an entry gets `defaults`. */
  setup?: Record<string, Partial<RunbookMemberSetup>>;
  defaults?: Partial<RunbookMemberSetup>;
  /** The tool the blocks run (the other forms are given as comments). Default `etcdutl`. */
  tool?: RestoreToolKind;
  skipHashCheck?: boolean;
  bumpRevision?: number;
  markCompacted?: boolean;
  clusterName?: string;
  snapshotSha256?: string;
  snapshotRevision?: number | string;
  /** For `etcdctl endpoint status` after the start. */
  tls?: { caFile?: string; certFile?: string; keyFile?: string };
  /** Suffix of the moved-aside dirs (`<dir>.old-<stamp>`); default: from `generatedAt`. */
  stamp?: string;
  generatedAt?: Date;
}

/** `20260124-153012` (UTC). */
export function timestamp(d: Date = new Date()): string {
  const p = (n: number): string => String(n).padStart(2, '0');
  const day = `${d.getUTCFullYear()}${p(d.getUTCMonth() + 1)}${p(d.getUTCDate())}`;
  return `${day}-${p(d.getUTCHours())}${p(d.getUTCMinutes())}${p(d.getUTCSeconds())}`;
}

/** A `--flag=value` word with only the value quoted; any other word quoted as a whole. */
export function quoteArg(arg: string): string {
  const m = /^(--[A-Za-z0-9-]+=)([\s\S]*)$/.exec(arg);
  return m ? m[1] + shellQuote(m[2]) : shellQuote(arg);
}

/** One command over several lines, continued with ` \`, every word quoted. */
export function shellCommand(words: string[], prefix = ''): string {
  const [program, ...rest] = words;
  const head = `${prefix}${shellQuote(program)}`;
  const lines: string[] = [];
  let current = head;
  for (const w of rest.map(quoteArg)) {
    if (w.startsWith('--') && current !== head) {
      lines.push(current);
      current = `  ${w}`;
    } else {
      current += ` ${w}`;
    }
  }
  lines.push(current);
  return lines.join(' \\\n');
}

function commentOut(text: string): string {
  return text
    .split('\n')
    .map((l) => `# ${l}`)
    .join('\n');
}

/** A code span that survives backticks inside the value. */
function code(s: string): string {
  const ticks = /`+/g;
  let longest = 0;
  for (const m of s.match(ticks) ?? []) {
    longest = Math.max(longest, m.length);
  }
  const fence = '`'.repeat(longest + 1);
  return longest ? `${fence} ${s} ${fence}` : `${fence}${s}${fence}`;
}

/** Markdown table cell text. */
function cell(s: string): string {
  return s.replace(/\|/g, '\\|').replace(/\n/g, ' ');
}

function hostOf(peerURL: string | undefined): string {
  const u = peerURL ? checkPeerUrl(peerURL).url : undefined;
  return u ? new URL(u).hostname : 'its machine';
}

/** The three ways to run the restore for one member, as argument arrays. */
export function restoreInvocations(flags: RestoreFlags): { etcdutl: string[]; etcdctl: string[]; cli: string[] } {
  const all = restoreArgs(flags);
  // etcdctl 3.4 has no --bump-revision/--mark-compacted.
  const plain = restoreArgs({ ...flags, bumpRevision: undefined, markCompacted: undefined });
  return { etcdutl: ['etcdutl', ...all], etcdctl: ['etcdctl', ...plain], cli: ['etcd-backup', ...all] };
}

/** The Markdown runbook: the plan, what to do first, one block per member, the final check. */
export function buildRunbook(input: RunbookInput): string {
  const generatedAt = input.generatedAt ?? new Date();
  const stamp = input.stamp ?? timestamp(generatedAt);
  const tool = input.tool ?? 'etcdutl';
  const out = [...runbookHeader(input, generatedAt), ...beforeYouStart(input)];
  for (const m of input.plan.members) out.push(...memberSection(input, m, stamp, tool));
  out.push(...whenEveryMemberStarted(input, stamp));
  return out.join('\n');
}

/** The title and the table of what every member shares (snapshot, hash, token, members). */
function runbookHeader(input: RunbookInput, generatedAt: Date): string[] {
  const out: string[] = [];
  const title = input.clusterName
    ? `Restore etcd cluster "${input.clusterName}" from a snapshot`
    : 'Restore an etcd cluster from a snapshot';
  out.push(`# ${title}`, '');
  out.push(`Generated ${generatedAt.toISOString()} by etcd Backup & Restore.`, '');
  out.push(
    'Every member is restored from the **same** snapshot file: restore makes a new logical cluster (new cluster and ' +
      'member ids), and members restored from different files, or restored separately, become split one-member clusters.',
    '',
  );
  out.push('| | |', '|---|---|');
  out.push(`| Snapshot | ${code(input.snapshotPath)} |`);
  if (input.snapshotSha256) {
    out.push(`| SHA-256 of the file | ${code(input.snapshotSha256)} |`);
  }
  if (input.snapshotRevision !== undefined) {
    out.push(`| Revision in the snapshot | ${cell(String(input.snapshotRevision))} |`);
  }
  out.push(`| New cluster token | ${code(input.plan.initialClusterToken)} |`);
  out.push(`| Members | ${cell(input.plan.members.map((m) => `${m.name} (${m.peerURLs.join(', ')})`).join(', '))} |`);
  out.push('');
  return out;
}

/** Copy and check the file; how to read the blocks; the hash-check and revision-bump notes. */
function beforeYouStart(input: RunbookInput): string[] {
  const out: string[] = [];
  out.push('## Before you start', '');
  out.push(
    `1. Copy the snapshot to ${code(input.snapshotPath)} on every machine below${input.snapshotSha256 ? ', and check it there:' : '.'}`,
  );
  if (input.snapshotSha256) {
    out.push('', '   ```sh', `   echo ${shellQuote(`${input.snapshotSha256}  ${input.snapshotPath}`)} | sha256sum -c -`, '   ```', '');
  }
  out.push(
    '2. Run each block as root on the machine it names (`sudo -i` first). Lines starting with `#` are explanations or alternatives.',
  );
  out.push('3. Restore every member before expecting the cluster to answer: a restored member waits for a quorum of its peers.');
  if (input.skipHashCheck) {
    out.push(
      '4. This file has no SHA-256 trailer (a `member/snap/db` copied out of a data dir), so the restore skips ' +
        'the hash check: nothing proves the file is intact, and it may miss writes that were still only in the WAL.',
    );
  }
  if (input.bumpRevision) {
    out.push(
      `${input.skipHashCheck ? '5' : '4'}. The restore raises the revision by ` +
        `${input.bumpRevision} and marks the old revisions compacted (\`--bump-revision ` +
        `--mark-compacted\`, etcdutl 3.5.10+), so Kubernetes watchers re-list ` +
        `instead of seeing revisions go backwards. \`etcdctl\` 3.4 cannot do this.`,
    );
  }
  out.push('');

  return out;
}

/** One member's block: stop etcd, move the old dir aside, restore, owner and mode, point etcd at it, start, verify. */
function memberSection(input: RunbookInput, m: RestorePlan['members'][number], stamp: string, tool: RestoreToolKind): string[] {
  const out: string[] = [];
  const setup: RunbookMemberSetup = { dataDir: '/var/lib/etcd', ...input.defaults, ...input.setup?.[m.name] } as RunbookMemberSetup;
  const runtime = setup.runtime ?? 'systemd';
  const oldDir = setup.oldDataDir ?? setup.dataDir;
  const aside = `${oldDir}.old-${stamp}`;
  const owner = setup.owner ?? (runtime === 'static-pod' ? 'root:root' : 'etcd:etcd');
  const manifest = setup.manifestPath ?? '/etc/kubernetes/manifests/etcd.yaml';
  const parkedPath = parkedManifestPath(manifest);
  const unit = setup.unit ?? 'etcd';
  const f = memberFlags(input.plan, m.name);
  const flags: RestoreFlags = {
    snapshot: setup.snapshotPath ?? input.snapshotPath,
    ...f,
    dataDir: setup.dataDir,
    skipHashCheck: input.skipHashCheck,
    bumpRevision: input.bumpRevision,
    markCompacted: input.markCompacted,
  };
  const inv = restoreInvocations(flags);
  out.push(`## Member ${code(m.name)} on ${hostOf(m.peerURLs[0])}`, '');
  out.push(
    `Peer URL${m.peerURLs.length > 1 ? 's' : ''}: ${m.peerURLs.map(code).join(', ')}; restored data ` +
      `dir: ${code(setup.dataDir)}${oldDir !== setup.dataDir ? ` (the old one is ${code(oldDir)})` : ''}.`,
    '',
  );
  const b: string[] = [];
  b.push(`# ---- member ${m.name}: run as root on ${hostOf(m.peerURLs[0])} ----`);
  b.push('# 1. Stop etcd');
  if (runtime === 'static-pod') {
    b.push('#    (moving the manifest out of the manifests folder makes the kubelet stop the pod)');
    b.push(`mv ${shellQuote(manifest)} ${shellQuote(parkedPath)}`);
    b.push("while crictl ps --name '^etcd$' -q | grep -q .; do echo 'waiting for the etcd container to stop'; sleep 2; done");
  } else {
    b.push(`systemctl stop ${shellQuote(unit)}`);
  }
  b.push('# 2. Move the old data dir aside (never deleted; remove it yourself once the cluster is healthy),');
  b.push('#    unless a process still holds its database (a running etcd keeps a lock on it, however it was started)');
  const db = shellQuote(`${oldDir}/member/snap/db`);
  const busy = shellQuote(`${oldDir} is still in use (a process holds a lock on its database): stop etcd first, then run this block again`);
  b.push(
    `if [ -e ${db} ] && ! flock -n ${db} true; then echo ${busy} >&2; elif [ -e ` +
      `${shellQuote(oldDir)} ]; then mv ${shellQuote(oldDir)} ${shellQuote(aside)}; fi`,
  );
  if (oldDir !== setup.dataDir) {
    b.push(`#    the restore target must not exist or be empty: ${setup.dataDir}`);
  }
  b.push(`# 3. Restore this member from the snapshot (${tool === 'etcdutl' ? 'etcdutl, etcd 3.5+' : 'etcdctl 3.4'})`);
  if (tool === 'etcdutl') {
    b.push(shellCommand(inv.etcdutl));
    b.push('#    without etcdutl (etcd 3.4, Debian/Ubuntu etcd-client):');
    b.push(commentOut(shellCommand(inv.etcdctl, 'ETCDCTL_API=3 ')));
  } else {
    b.push(shellCommand(inv.etcdctl, 'ETCDCTL_API=3 '));
    b.push('#    with etcdutl (etcd 3.5+):');
    b.push(commentOut(shellCommand(inv.etcdutl)));
  }
  b.push("#    or with etcd Backup & Restore's CLI (verifies the file first, refuses a non-empty dir):");
  b.push(commentOut(shellCommand(inv.cli)));
  b.push('# 4. Owner and mode: etcd will not start otherwise');
  b.push(`chown -R ${shellQuote(owner)} ${shellQuote(setup.dataDir)}`);
  b.push(`chmod 700 ${shellQuote(setup.dataDir)}`);
  if (oldDir !== setup.dataDir) {
    b.push('# 5. Point etcd at the restored dir');
    if (runtime === 'static-pod') {
      b.push('#    (--data-dir and the etcd-data hostPath volume; the volumeMounts entry must agree with the flag)');
      b.push(`etcd-backup manifest set-data-dir ${shellQuote(parkedPath)} ${shellQuote(setup.dataDir)} --write`);
      b.push(`#    or edit ${parkedPath} by hand: hostPath.path of the etcd-data volume -> ${setup.dataDir}`);
    } else if (setup.envFile) {
      b.push(`etcd-backup manifest set-data-dir ${shellQuote(setup.envFile)} ${shellQuote(setup.dataDir)} --write`);
      b.push(`#    or set ETCD_DATA_DIR (or --data-dir / data-dir:) to ${setup.dataDir} by hand in ${setup.envFile}`);
    } else {
      b.push(`#    set ETCD_DATA_DIR (or --data-dir) to ${setup.dataDir} in etcd's env file or unit: systemctl cat ${unit}`);
    }
  } else {
    b.push('# 5. The data dir path is unchanged: the manifest / env file need no edit');
  }
  b.push('# 6. Start etcd');
  if (runtime === 'static-pod') {
    b.push(`mv ${shellQuote(parkedPath)} ${shellQuote(manifest)}`);
    b.push('#    the kubelet starts the pod again; wait until its container runs (or watch: crictl ps | grep etcd)');
    b.push("until crictl ps --name '^etcd$' --state running -q | grep -q .; do echo 'waiting for the etcd container'; sleep 2; done");
  } else {
    b.push(`systemctl start ${shellQuote(unit)}`);
    b.push(`systemctl --no-pager status ${shellQuote(unit)}`);
  }
  b.push('# 7. Verify (it answers once a quorum of members is restored and started)');
  b.push(shellCommand(endpointStatusWords(m.clientURLs?.length ? m.clientURLs : ['https://127.0.0.1:2379'], input.tls), 'ETCDCTL_API=3 '));
  out.push('```sh', b.join('\n'), '```', '');

  return out;
}

/** The cluster-wide check once every member runs. */
function whenEveryMemberStarted(input: RunbookInput, stamp: string): string[] {
  const out: string[] = [];
  const allClients = input.plan.members.flatMap((m) => m.clientURLs ?? []);
  out.push('## When every member is started', '');
  out.push('```sh');
  out.push(
    shellCommand([...endpointStatusWords(allClients.length ? allClients : ['https://127.0.0.1:2379'], input.tls)], 'ETCDCTL_API=3 '),
  );
  out.push(
    shellCommand(
      [
        'etcdctl',
        ...endpointTlsWords(allClients.length ? allClients : ['https://127.0.0.1:2379'], input.tls),
        'member',
        'list',
        '-w',
        'table',
      ],
      'ETCDCTL_API=3 ',
    ),
  );
  out.push('```', '');
  out.push(
    `Every member should be listed with its new id, one of them the leader, and the same revision. Once ` +
      `the cluster is healthy, the old data dirs (\`*.old-${stamp}\`) can be removed. Take a fresh snapshot.`,
    '',
  );
  return out;
}

/**
 * Where the manifest waits while etcd is stopped: outside the kubelet's manifests folder
 * (`/etc/kubernetes/manifests/etcd.yaml` -> `/etc/kubernetes/etcd.yaml.restoring`), since the
 * kubelet runs every file in that folder.
 */
export function parkedManifestPath(manifest: string): string {
  const m = /^(.*)\/manifests\/([^/]+)$/.exec(manifest);
  return m ? `${m[1] || ''}/${m[2]}.restoring` : `${manifest}.restoring`;
}

function endpointTlsWords(endpoints: string[], tls: RunbookInput['tls']): string[] {
  const w = [`--endpoints=${endpoints.join(',')}`];
  if (tls?.caFile) w.push(`--cacert=${tls.caFile}`);
  if (tls?.certFile) w.push(`--cert=${tls.certFile}`);
  if (tls?.keyFile) w.push(`--key=${tls.keyFile}`);
  return w;
}

function endpointStatusWords(endpoints: string[], tls: RunbookInput['tls']): string[] {
  return ['etcdctl', ...endpointTlsWords(endpoints, tls), 'endpoint', 'status', '-w', 'table'];
}
