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

/** A member restored already by the run that writes the runbook: its block says so and gives only what is left. */
export interface RestoredHere {
  dataDir: string;
  movedAside?: string;
  /** When (ISO time) and by whom (`user@host`). */
  at: string;
  by?: string;
}

/** Where things are on one member's machine; only what is known for that member (nothing is guessed). */
export interface RunbookMemberSetup {
  /** Where the restored data dir goes; unknown: the block reads the member's data dir on its machine and restores in place. */
  dataDir?: string;
  /** The data dir etcd uses now, moved aside (default: `dataDir`). */
  oldDataDir?: string;
  /** Restored already (by this run or an earlier one of the same plan). */
  restored?: RestoredHere;
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
  const setupOf = (name: string): Partial<RunbookMemberSetup> => ({ ...input.defaults, ...input.setup?.[name] });
  const done = input.plan.members.filter((m) => setupOf(m.name).restored).map((m) => code(m.name));
  const unknown = input.plan.members.filter((m) => !setupOf(m.name).restored && !setupOf(m.name).dataDir).map((m) => code(m.name));
  if (done.length) {
    out.push(
      `   Restored already: ${done.join(', ')} (${done.length === 1 ? 'its block only starts it' : 'their blocks only start them'}).`,
    );
  }
  if (unknown.length) {
    out.push(
      `   The data dir of ${unknown.join(', ')} is not known here: step 0 of ${unknown.length === 1 ? 'its block' : 'their blocks'} ` +
        'reads it on that machine and prints it; check it before going on.',
    );
  }
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

/** What the blocks of one member need: its setup with the defaults applied, and its data dirs as shell words. */
interface MemberContext {
  setup: Partial<RunbookMemberSetup>;
  runtime: EtcdRuntime;
  manifest: string;
  parked: string;
  unit: string;
  owner: string;
  /** The restored dir and the old one as shell words (a checked variable when not known here). */
  newWord: string;
  oldWord: string;
  /** The same as text for comments; undefined: found on that machine. */
  newText?: string;
  oldText?: string;
}

/** The variable a block sets when the member's data dir is not known here; every use fails loudly while it is empty. */
const DATA_DIR_VAR = '"${DATA_DIR:?run step 0 of this block first}"';
/** Stands for the unknown dir inside commands built from argument arrays, then replaced by the variable. */
const UNKNOWN_DIR = '\u0001DATA_DIR\u0001';

function memberContext(input: RunbookInput, name: string): MemberContext {
  const setup: Partial<RunbookMemberSetup> = { ...input.defaults, ...input.setup?.[name] };
  const runtime = setup.runtime ?? 'systemd';
  const manifest = setup.manifestPath ?? '/etc/kubernetes/manifests/etcd.yaml';
  const known = setup.dataDir;
  // Nothing known about that machine: its own data dir is found there, and restored in place.
  const newText = known;
  const oldText = known ? (setup.oldDataDir ?? known) : undefined;
  return {
    setup,
    runtime,
    manifest,
    parked: parkedManifestPath(manifest),
    unit: setup.unit ?? 'etcd',
    owner: setup.owner ?? (runtime === 'static-pod' ? 'root:root' : 'etcd:etcd'),
    newWord: newText ? shellQuote(newText) : DATA_DIR_VAR,
    oldWord: oldText ? shellQuote(oldText) : DATA_DIR_VAR,
    newText,
    oldText,
  };
}

/** sed -E scripts that print a data dir set by `--data-dir`, `ETCD_DATA_DIR=` or `data-dir:` (quoted or not); comments skipped. */
const VALUE = `("([^"]*)"|'([^']*)'|([^"' ]+))`;
const DATA_DIR_SED = [
  '/^[[:space:]]*#/d',
  `s/.*--data-dir[= ]+${VALUE}.*/\\2\\3\\4/p`,
  `s/^[[:space:]]*(Environment=)?"?ETCD_DATA_DIR=${VALUE}.*/\\3\\4\\5/p`,
  `s/^[[:space:]]*data-dir:[[:space:]]*${VALUE}.*/\\2\\3\\4/p`,
];

/** Step 0 when the data dir is not known here: read it on that machine (manifest, or env file / unit), checked non-empty. */
function discoverLines(c: MemberContext): string[] {
  const sed = `sed -E -n ${DATA_DIR_SED.map((e) => `-e ${shellQuote(e)}`).join(' ')}`;
  const b: string[] = [];
  let from: string;
  if (c.runtime === 'static-pod') {
    from = `${c.manifest} (or ${c.parked})`;
    b.push(`# 0. Find this member's data dir: the --data-dir of ${c.manifest} (kubeadm mounts the etcd-data hostPath at`);
    b.push('#    the same path; if yours differs, set DATA_DIR to the hostPath). Nothing here is a guess: check what it prints.');
    b.push(`DATA_DIR=$(cat ${shellQuote(c.manifest)} ${shellQuote(c.parked)} 2>/dev/null | ${sed} | head -n 1)`);
  } else {
    const files = c.setup.envFile
      ? [c.setup.envFile]
      : ['/etc/default/etcd', '/etc/sysconfig/etcd', '/etc/etcd/etcd.conf', '/etc/etcd/etcd.env', '/etc/etcd/etcd.conf.yml'];
    from = `systemctl cat ${c.unit}, ${files.join(', ')}`;
    b.push(`# 0. Find this member's data dir: --data-dir, ETCD_DATA_DIR or data-dir: in ${from}.`);
    b.push('#    Nothing here is a guess: check what it prints.');
    b.push(
      `DATA_DIR=$( { systemctl cat ${shellQuote(c.unit)}; cat ${files.map(shellQuote).join(' ')}; } 2>/dev/null | ${sed} | head -n 1)`,
    );
  }
  const missing = `No data dir found in ${from}: set DATA_DIR=/path/of/its/data/dir by hand, then run the rest of this block.`;
  b.push(`if [ -n "$DATA_DIR" ]; then echo "this member's data dir: $DATA_DIR"; else echo ${shellQuote(missing)} >&2; fi`);
  return b;
}

function stopLines(c: MemberContext): string[] {
  if (c.runtime !== 'static-pod') return [`systemctl stop ${shellQuote(c.unit)}`];
  return [
    '#    (moving the manifest out of the manifests folder makes the kubelet stop the pod)',
    `if [ -e ${shellQuote(c.manifest)} ]; then mv ${shellQuote(c.manifest)} ${shellQuote(c.parked)}; fi`,
    "while crictl ps --name '^etcd$' -q | grep -q .; do echo 'waiting for the etcd container to stop'; sleep 2; done",
  ];
}

function startLines(c: MemberContext): string[] {
  if (c.runtime !== 'static-pod') return [`systemctl start ${shellQuote(c.unit)}`, `systemctl --no-pager status ${shellQuote(c.unit)}`];
  return [
    `if [ -e ${shellQuote(c.parked)} ]; then mv ${shellQuote(c.parked)} ${shellQuote(c.manifest)}; fi`,
    '#    the kubelet starts the pod again; wait until its container runs (or watch: crictl ps | grep etcd)',
    "until crictl ps --name '^etcd$' --state running -q | grep -q .; do echo 'waiting for the etcd container'; sleep 2; done",
  ];
}

/** Point the manifest / env file at the restored dir (only when it is a new path). */
function pointLines(c: MemberContext, dir: string, manifestNow: string): string[] {
  const b: string[] = [];
  if (c.runtime === 'static-pod') {
    b.push('#    (--data-dir and the etcd-data hostPath volume; the volumeMounts entry must agree with the flag)');
    b.push(`etcd-backup manifest set-data-dir ${shellQuote(manifestNow)} ${shellQuote(dir)} --write`);
    b.push(`#    or edit ${manifestNow} by hand: hostPath.path of the etcd-data volume -> ${dir}`);
  } else if (c.setup.envFile) {
    b.push(`etcd-backup manifest set-data-dir ${shellQuote(c.setup.envFile)} ${shellQuote(dir)} --write`);
    b.push(`#    or set ETCD_DATA_DIR (or --data-dir / data-dir:) to ${dir} by hand in ${c.setup.envFile}`);
  } else {
    b.push(`#    set ETCD_DATA_DIR (or --data-dir) to ${dir} in etcd's env file or unit: systemctl cat ${c.unit}`);
  }
  return b;
}

function verifyLines(input: RunbookInput, m: RestorePlan['members'][number]): string[] {
  const endpoints = m.clientURLs?.length ? m.clientURLs : ['https://127.0.0.1:2379'];
  return [
    '# Verify (it answers once a quorum of members is restored and started)',
    shellCommand(endpointStatusWords(endpoints, input.tls), 'ETCDCTL_API=3 '),
  ];
}

/** The block of the member restored on the machine that wrote the runbook: what is left, never "restore again". */
function restoredSection(input: RunbookInput, m: RestorePlan['members'][number], c: MemberContext): string[] {
  const r = c.setup.restored as RestoredHere;
  const host = hostOf(m.peerURLs[0]);
  const out: string[] = [`## Member ${code(m.name)} on ${host}: restored already`, ''];
  out.push(
    `Restored into ${code(r.dataDir)} at ${r.at}${r.by ? ` by ${code(r.by)}` : ''}` +
      `${r.movedAside ? `; the old data dir was moved aside to ${code(r.movedAside)}` : ''}. ` +
      '**Do not restore it again**: only point etcd at that dir (if not done), start it, verify.',
    '',
  );
  const b: string[] = [`# ---- member ${m.name}: restored already into ${r.dataDir}; run as root on ${host} ----`];
  if (c.setup.oldDataDir !== r.dataDir) {
    b.push('# 1. Point etcd at the restored dir (nothing changes when it already does)');
    if (c.runtime === 'static-pod') {
      // The manifest is where the kubelet reads it, or still parked outside the manifests folder.
      b.push(`MANIFEST=${shellQuote(c.manifest)}; if [ -e ${shellQuote(c.parked)} ]; then MANIFEST=${shellQuote(c.parked)}; fi`);
      b.push(`etcd-backup manifest set-data-dir "$MANIFEST" ${shellQuote(r.dataDir)} --write`);
      b.push(`#    or edit it by hand: --data-dir, the etcd-data mount and its hostPath.path -> ${r.dataDir}`);
    } else {
      b.push(...pointLines(c, r.dataDir, ''));
    }
  } else {
    b.push('# 1. The data dir path is unchanged: the manifest / env file need no edit');
  }
  b.push(`# 2. Start etcd${c.runtime === 'static-pod' ? ` (put the manifest back if you moved it out to stop etcd)` : ''}`);
  b.push(...startLines(c));
  b.push(...verifyLines(input, m).map((l, i) => (i === 0 ? l.replace('# Verify', '# 3. Verify') : l)));
  out.push('```sh', b.join('\n'), '```', '');
  return out;
}

/** One member's block: stop etcd, move the old dir aside, restore, owner and mode, point etcd at it, start, verify. */
function memberSection(input: RunbookInput, m: RestorePlan['members'][number], stamp: string, tool: RestoreToolKind): string[] {
  const c = memberContext(input, m.name);
  if (c.setup.restored) return restoredSection(input, m, c);
  const host = hostOf(m.peerURLs[0]);
  const f = memberFlags(input.plan, m.name);
  const flags: RestoreFlags = {
    snapshot: c.setup.snapshotPath ?? input.snapshotPath,
    ...f,
    dataDir: c.newText ?? UNKNOWN_DIR,
    skipHashCheck: input.skipHashCheck,
    bumpRevision: input.bumpRevision,
    markCompacted: input.markCompacted,
  };
  const inv = restoreInvocations(flags);
  const cmd = (words: string[], prefix = ''): string => shellCommand(words, prefix).split(shellQuote(UNKNOWN_DIR)).join(DATA_DIR_VAR);
  const newDir = c.newText !== undefined && c.newText !== c.oldText;
  const out: string[] = [`## Member ${code(m.name)} on ${host}`, ''];
  out.push(
    `Peer URL${m.peerURLs.length > 1 ? 's' : ''}: ${m.peerURLs.map(code).join(', ')}; ` +
      (c.newText
        ? `restored data dir: ${code(c.newText)}${newDir ? ` (the old one is ${code(c.oldText as string)})` : ''}.`
        : 'data dir: not known here; step 0 reads it on that machine, and the member is restored in place (the old dir moved aside).'),
    '',
  );
  const b: string[] = [`# ---- member ${m.name}: run as root on ${host} ----`];
  if (!c.newText) b.push(...discoverLines(c));
  b.push('# 1. Stop etcd', ...stopLines(c));
  b.push('# 2. Move the old data dir aside (never deleted; remove it yourself once the cluster is healthy),');
  b.push('#    unless a process still holds its database (a running etcd keeps a lock on it, however it was started)');
  const db = `${c.oldWord}${shellQuote('/member/snap/db')}`;
  const busy =
    `${c.oldText ?? 'The data dir'} is still in use (a process holds a lock on its database): ` +
    'stop etcd first, then run this block again';
  const aside = `${c.oldWord}${shellQuote(`.old-${stamp}`)}`;
  const move = `elif [ -e ${c.oldWord} ]; then mv ${c.oldWord} ${aside}; fi`;
  b.push(`if [ -e ${db} ] && ! flock -n ${db} true; then echo ${shellQuote(busy)} >&2; ${move}`);
  if (newDir) b.push(`#    the restore target must not exist or be empty: ${c.newText}`);
  b.push(`# 3. Restore this member from the snapshot (${tool === 'etcdutl' ? 'etcdutl, etcd 3.5+' : 'etcdctl 3.4'})`);
  if (tool === 'etcdutl') {
    b.push(cmd(inv.etcdutl), '#    without etcdutl (etcd 3.4, Debian/Ubuntu etcd-client):', commentOut(cmd(inv.etcdctl, 'ETCDCTL_API=3 ')));
  } else {
    b.push(cmd(inv.etcdctl, 'ETCDCTL_API=3 '), '#    with etcdutl (etcd 3.5+):', commentOut(cmd(inv.etcdutl)));
  }
  b.push("#    or with etcd Backup & Restore's CLI (verifies the file first, refuses a non-empty dir):");
  b.push(commentOut(cmd(inv.cli)));
  b.push('# 4. Owner and mode: etcd will not start otherwise');
  b.push(`chown -R ${shellQuote(c.owner)} ${c.newWord}`, `chmod 700 ${c.newWord}`);
  if (newDir) {
    b.push('# 5. Point etcd at the restored dir', ...pointLines(c, c.newText as string, c.parked));
  } else {
    b.push('# 5. The data dir path is unchanged: the manifest / env file need no edit');
  }
  b.push('# 6. Start etcd', ...startLines(c));
  b.push(...verifyLines(input, m).map((l, i) => (i === 0 ? l.replace('# Verify', '# 7. Verify') : l)));
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
