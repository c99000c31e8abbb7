/**
 * `etcd-backup snapshot restore` and the trial restore behind `snapshot verify --trial-restore`:
 * the same core and the same checks as in VS Code, for machines without it (the restore
 * runbook calls this). Registered in the `snapshot` group (src/cli/snapshot.ts).
 */
import { promises as fs } from 'fs';
import { MemberRestoreFlags, newClusterToken } from '../core/restore/plan';
import { fileSha256, flagsFromPlanFile, markMemberDone, readPlanFile, whoAmI } from '../core/restore/planFile';
import { restoreMember, RestoreMemberResult, RestoreStep, trialRestore, TrialRestoreResult, TrialStep } from '../core/restore/restore';
import { memberFilesEnablingV2 } from '../core/v2files';
import { v2RestoreWarning } from '../core/v2store';
import { command, CommandSpec, ParsedValues, stringValue, writeOutFlag } from './args';
import { CliUsageError } from './types';

const WRITE_OUT = writeOutFlag('simple', 'json');
const TOOLS = {
  etcdutl: { type: 'string', value: 'PATH', help: 'the etcdutl to restore with (default: etcdutl on PATH, else etcdctl 3.4)' },
  etcdctl: { type: 'string', value: 'PATH', help: 'the etcdctl to fall back on' },
} as const;
const SKIP_HASH = { type: 'boolean', help: 'accept a file without a SHA-256 trailer (a copied member/snap/db)' } as const;

export const restoreSpec: CommandSpec = {
  name: 'snapshot restore',
  summary: "restore one member's data dir from a snapshot (etcdutl / etcdctl 3.4), safely",
  positionals: { usage: '<file>', min: 1, max: 1, sentence: 'give exactly one snapshot file.' },
  options: {
    name: { type: 'string', value: 'N', help: "the member's --name", required: true },
    plan: {
      type: 'string',
      value: 'FILE',
      help: 'a restore plan stored by VS Code (<snapshot>.restore-plan-*.json): gives the three flags below; the member is recorded in it',
    },
    'initial-cluster': {
      type: 'string',
      value: 'C',
      help: 'every member, name=peer-url,... (as etcd --initial-cluster)',
      required: true,
      unlessGiven: 'plan',
    },
    'initial-advertise-peer-urls': { type: 'string', value: 'U', help: "this member's peer URL(s)", required: true, unlessGiven: 'plan' },
    'initial-cluster-token': {
      type: 'string',
      value: 'T',
      help: 'a new token, the same on every member of the restored cluster',
      required: true,
      unlessGiven: 'plan',
      ifMissing: () =>
        `missing --initial-cluster-token: give every member of the restored cluster ` +
        `the same new token, e.g. --initial-cluster-token ${newClusterToken()}.`,
    },
    'data-dir': { type: 'string', value: 'D', help: 'the new data dir (absent or empty)', required: true },
    'old-data-dir': { type: 'string', value: 'O', help: 'the data dir etcd used: moved aside to <dir>.old-<timestamp>, never deleted' },
    owner: { type: 'string', value: 'user:group', help: 'owner of the new dir (default: the owner of the old one)' },
    'skip-hash-check': SKIP_HASH,
    'bump-revision': { type: 'string', value: 'N', help: 'raise every revision by N (with --mark-compacted)' },
    'mark-compacted': { type: 'boolean', help: 'mark the revisions before the bump compacted' },
    ...TOOLS,
    'write-out': WRITE_OUT,
    'etcd-file': { type: 'string', value: 'F', help: "this member's manifest, env file or unit (for the v2 warning)" },
  },
  description: `Restores one member's data dir from a snapshot with etcdutl (or ETCDCTL_API=3 etcdctl 3.4):
verifies the file first, refuses a non-empty --data-dir, writes into a temporary sibling and
renames it into place, moves --old-data-dir aside to <dir>.old-<timestamp> (never deletes it),
and gives the new dir the owner of the old one (or --owner) and mode 0700.
A snapshot holds no v2 keys: it warns when this member's etcd files (--etcd-file, or the usual
places whose data dir is --data-dir / --old-data-dir) start etcd with --enable-v2.`,
};

/** `uid:gid` numbers, or `user:group` names looked up in /etc/passwd and /etc/group. */
export async function parseOwner(text: string): Promise<{ uid: number; gid: number }> {
  const [u, g] = text.split(':');
  const lookup = async (file: string, name: string, field: number): Promise<number> => {
    if (/^\d+$/.test(name)) {
      const n = Number(name);
      // 4294967295 is (uid_t)-1, which chown reads as "leave unchanged".
      if (!Number.isSafeInteger(n) || n > 4294967294) {
        throw new CliUsageError(`--owner: ${name} is not a valid ${file === '/etc/passwd' ? 'uid' : 'gid'} (0 to 4294967294).`);
      }
      return n;
    }
    const content = await fs.readFile(file, 'utf8').catch(() => '');
    for (const line of content.split('\n')) {
      const parts = line.split(':');
      if (parts[0] === name) {
        return Number(parts[field]);
      }
    }
    throw new CliUsageError(`--owner: no ${file === '/etc/passwd' ? 'user' : 'group'} "${name}" on this machine.`);
  };
  if (!u || text.split(':').length > 2) {
    throw new CliUsageError('--owner needs user:group (e.g. etcd:etcd) or uid:gid.');
  }
  const uid = await lookup('/etc/passwd', u, 2);
  let gid: number;
  if (g) {
    gid = await lookup('/etc/group', g, 2);
  } else {
    // The user's primary group.
    const content = await fs.readFile('/etc/passwd', 'utf8').catch(() => '');
    const line = content.split('\n').find((l) => l.split(':')[2] === String(uid));
    gid = line ? Number(line.split(':')[3]) : uid;
  }
  return { uid, gid };
}

function stepLine(s: RestoreStep | TrialStep): string {
  const mark = s.state === 'done' ? 'ok  ' : s.state === 'failed' ? 'FAIL' : s.state === 'skipped' ? 'skip' : '... ';
  return `[${mark}] ${s.step}: ${s.message}\n`;
}

const CLUSTER_FLAGS = ['initial-cluster', 'initial-advertise-peer-urls', 'initial-cluster-token'] as const;

/** The member's cluster flags: from the stored plan (`--plan`, checked against this snapshot's content), else as given. */
async function clusterFlags(
  snapshot: string,
  str: (k: string) => string | undefined,
): Promise<{ flags: MemberRestoreFlags; plan?: { file: string; sha256: string } }> {
  const planFile = str('plan');
  if (!planFile) {
    return {
      flags: {
        name: str('name') as string,
        initialCluster: str('initial-cluster') as string,
        initialAdvertisePeerUrls: str('initial-advertise-peer-urls') as string,
        initialClusterToken: str('initial-cluster-token') as string,
      },
    };
  }
  const given = CLUSTER_FLAGS.filter((k) => str(k) !== undefined);
  if (given.length) {
    throw new CliUsageError(`--plan gives ${given.map((k) => `--${k}`).join(', ')}: leave ${given.length > 1 ? 'them' : 'it'} out.`);
  }
  const sha256 = await fileSha256(snapshot);
  return { flags: await flagsFromPlanFile(planFile, sha256, str('name') as string), plan: { file: planFile, sha256 } };
}

/** Record the member as restored in its stored plan (closed as finished once every member is). */
async function recordInPlan(file: string, sha256: string, name: string, r: RestoreMemberResult): Promise<void> {
  const plan = await readPlanFile(file, sha256);
  const next = await markMemberDone(file, plan, name, {
    dataDir: r.dataDir,
    movedAside: r.movedAside,
    at: new Date().toISOString(),
    by: whoAmI(),
  });
  const left = next.members.filter((m) => !next.done[m.name]).map((m) => m.name);
  process.stderr.write(
    left.length
      ? `Recorded ${name} as restored in ${file}; left: ${left.join(', ')}.\n`
      : `Every member of ${file} is restored: the plan is closed.\n`,
  );
}

export const restoreCommand = command(restoreSpec, async (flags, positionals) => {
  const str = (k: string): string | undefined => stringValue(flags, k);
  const cluster = await clusterFlags(positionals[0], str);
  let bumpRevision: number | undefined;
  if (str('bump-revision') !== undefined) {
    bumpRevision = Number(str('bump-revision'));
    if (!Number.isSafeInteger(bumpRevision) || bumpRevision < 0) {
      throw new CliUsageError(`--bump-revision must be a whole number (got "${str('bump-revision')}").`);
    }
  }
  const json = str('write-out') === 'json';
  if (str('write-out') && !['json', 'simple'].includes(str('write-out') as string)) {
    throw new CliUsageError('-w takes simple or json.');
  }
  const owner = str('owner') ? await parseOwner(str('owner') as string) : undefined;
  // A snapshot cannot hold v2 keys: warn when this member's etcd files turn the v2 API on.
  const memberFiles = str('etcd-file') ? [str('etcd-file') as string] : [];
  const v2Files = await memberFilesEnablingV2({ dataDirs: [str('data-dir'), str('old-data-dir')], memberFiles });
  for (const line of v2RestoreWarning({ files: v2Files, oldDataDir: str('old-data-dir') })) process.stderr.write(`Warning: ${line}\n`);
  const r = await restoreMember({
    snapshot: positionals[0],
    ...cluster.flags,
    dataDir: str('data-dir') as string,
    oldDataDir: str('old-data-dir'),
    owner,
    skipHashCheck: flags['skip-hash-check'] === true,
    bumpRevision,
    markCompacted: flags['mark-compacted'] === true,
    toolPaths: { etcdutl: str('etcdutl'), etcdctl: str('etcdctl') },
    onStep: (s) => {
      if (!json && s.state !== 'running') process.stderr.write(stepLine(s));
    },
  });
  if (cluster.plan) await recordInPlan(cluster.plan.file, cluster.plan.sha256, str('name') as string, r);
  if (json) {
    process.stdout.write(
      `${JSON.stringify(
        {
          dataDir: r.dataDir,
          movedAside: r.movedAside ?? null,
          tool: r.tool,
          owner: r.owner,
          sha256: r.snapshot.sha256 ?? null,
          steps: r.steps,
        },
        null,
        2,
      )}\n`,
    );
  } else {
    process.stdout.write(
      `Restored member "${str('name')}" into ${r.dataDir} (owner ${r.owner.uid}:${r.owner.gid}, ` +
        `mode 0700)${r.movedAside ? `; the old data dir is ${r.movedAside}` : ''}.\n`,
    );
  }
  return 0;
});

/** The trial restore for `snapshot verify --trial-restore`; prints the steps and the verdict. */
export async function runTrialRestore(
  file: string,
  opts: { json?: boolean; skipHashCheck?: boolean; etcdutl?: string; etcdctl?: string; etcd?: string } = {},
): Promise<{ code: number; result: TrialRestoreResult }> {
  const ac = new AbortController();
  const onSig = (): void => ac.abort();
  process.once('SIGINT', onSig);
  try {
    const result = await trialRestore(file, {
      signal: ac.signal,
      skipHashCheck: opts.skipHashCheck,
      toolPaths: { etcdutl: opts.etcdutl, etcdctl: opts.etcdctl, etcd: opts.etcd },
      onStep: (s) => {
        if (!opts.json && s.state !== 'running') process.stderr.write(stepLine(s));
      },
    });
    if (opts.json) {
      process.stdout.write(`${JSON.stringify(result, null, 2)}\n`);
    } else {
      process.stdout.write(`${result.verdict}\n`);
    }
    return { code: result.ok ? 0 : 1, result };
  } finally {
    process.removeListener('SIGINT', onSig);
  }
}

export const trialRestoreSpec: CommandSpec = {
  name: 'snapshot trial-restore',
  summary: 'restore into a temp dir, start a throwaway etcd on loopback, compare revision and keys with the file',
  positionals: { usage: '<file>', min: 1, max: 1, sentence: 'give exactly one snapshot file.' },
  options: {
    'skip-hash-check': SKIP_HASH,
    ...TOOLS,
    etcd: { type: 'string', value: 'PATH', help: 'the etcd to start (default: etcd on PATH)' },
    'write-out': WRITE_OUT,
    'trial-restore': { type: 'boolean', help: 'accepted and ignored (as in `snapshot verify --trial-restore`)' },
  },
  description: 'Exit status 0 when the throwaway member holds what the file holds; 1 with the reason otherwise.',
};

/** `etcd-backup snapshot trial-restore <file>` (also reachable as `verify --trial-restore`). */
export const trialRestoreCommand = command(trialRestoreSpec, async (flags: ParsedValues, positionals) => {
  const s = (k: string): string | undefined => stringValue(flags, k);
  const { code } = await runTrialRestore(positionals[0], {
    json: s('write-out') === 'json',
    skipHashCheck: flags['skip-hash-check'] === true,
    etcdutl: s('etcdutl'),
    etcdctl: s('etcdctl'),
    etcd: s('etcd'),
  });
  return code;
});
