/** Helpers of the point-in-time recovery tests (not a test file itself). */
import assert from 'assert';
import { execFile } from 'child_process';
import { newMemberSlot, startMemberProcess, TestMember } from '../support/etcdRig';

/** `etcdctl get --prefix "" -w json` reduced to what must be equal: header revision, every key's fields, count. */
export function normalizeGet(out: string): { revision: string; count: number; kvs: Record<string, string>[] } {
  // Lease ids and revisions are int64: read them as text, not as JS numbers.
  const j = JSON.parse(
    out.replace(/"(lease|revision|create_revision|mod_revision|version|cluster_id|member_id|raft_term)":(\d+)/g, '"$1":"$2"'),
  ) as {
    header: { revision: string };
    kvs?: Record<string, string>[];
    count?: string | number;
  };
  return {
    revision: j.header.revision,
    count: Number(j.count ?? 0),
    kvs: (j.kvs ?? []).map((kv) => ({
      key: kv.key,
      value: kv.value ?? '',
      create_revision: kv.create_revision,
      mod_revision: kv.mod_revision,
      version: kv.version,
      lease: kv.lease ?? '0',
    })),
  };
}

function run(cmd: string, args: string[], env: Record<string, string> = {}): Promise<{ code: number; stdout: string; stderr: string }> {
  return new Promise((resolve) => {
    execFile(cmd, args, { env: { ...process.env, ...env }, maxBuffer: 64 << 20, timeout: 60_000 }, (err, stdout, stderr) => {
      resolve({ code: err ? ((err as { code?: number }).code ?? 1) : 0, stdout, stderr });
    });
  });
}

/** Restore a snapshot with etcdctl, start it, and return `etcdctl get --prefix "" --rev=R -w json` on it. */
export async function restoredGet(file: string, rev: number): Promise<string> {
  const slot = await newMemberSlot({ name: `pitr${rev}` });
  const r = await run(
    '/usr/bin/etcdctl',
    [
      'snapshot',
      'restore',
      file,
      `--name=${slot.name}`,
      `--data-dir=${slot.dataDir}`,
      `--initial-cluster=${slot.name}=${slot.peerURL}`,
      `--initial-advertise-peer-urls=${slot.peerURL}`,
    ],
    { ETCDCTL_API: '3' },
  );
  assert.strictEqual(r.code, 0, `etcdctl snapshot restore failed: ${r.stderr}`);
  let m: TestMember | undefined;
  try {
    m = await startMemberProcess({
      name: slot.name,
      dataDir: slot.dataDir,
      clientURL: slot.clientURL,
      peerURL: slot.peerURL,
      initialCluster: `${slot.name}=${slot.peerURL}`,
      initialClusterState: 'new',
      initialClusterToken: 'pitr-check',
      dir: slot.dir,
      ports: slot.ports,
    });
    await m.waitHealthy();
    const g = await run('/usr/bin/etcdctl', ['--endpoints', slot.clientURL, 'get', '--prefix', '', `--rev=${rev}`, '-w', 'json'], {
      ETCDCTL_API: '3',
    });
    assert.strictEqual(g.code, 0, `etcdctl get on the restored member failed: ${g.stderr}`);
    return g.stdout;
  } finally {
    await m?.remove();
  }
}
