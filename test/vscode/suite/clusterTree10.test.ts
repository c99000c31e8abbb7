/**
 * A tree of 10 clusters inside the real extension host: 8 live (one real etcd on loopback,
 * configured under 8 names), one refusing connections (a port nobody listens on) and one silent
 * (a TCP listener that accepts and never answers). Each cluster resolves on its own: the live
 * rows show their status long before the silent one's deadline, the silent row says "still
 * trying (5 s deadline)" meanwhile, and the view's progress shows until the last one settled.
 */
import * as assert from 'assert';
import { createServer, Server, Socket } from 'net';
import * as vscode from 'vscode';
import type { ExtensionApi } from '../../../src/extension';
import type { DumpedNode } from '../../../src/views/clustersView';
import { EtcdTestCluster, startCluster } from '../../support/etcdRig';
import { activateExtension, setSettings } from '../support';

async function listen(server: Server): Promise<number> {
  await new Promise<void>((resolve) => server.listen(0, '127.0.0.1', resolve));
  return (server.address() as { port: number }).port;
}

const settledStatus = (d: DumpedNode | undefined): boolean =>
  Boolean(d?.description) && !/^(connecting…|still trying)/.test(d?.description ?? '');

describe('Tree of 10 clusters (8 live, one refusing, one silent)', function () {
  this.timeout(120_000);
  let api: ExtensionApi;
  let cluster: EtcdTestCluster;
  let restore: (() => Promise<void>) | undefined;
  const silent = createServer();
  const sockets: Socket[] = [];
  let silentPort = 0;
  let refusedPort = 0;

  before(async () => {
    api = (await activateExtension()).api;
    cluster = await startCluster({ members: 1, name: 'ten' });
    silent.on('connection', (s) => sockets.push(s)); // accepted, never answered
    silentPort = await listen(silent);
    const closed = createServer();
    refusedPort = await listen(closed);
    await new Promise((r) => closed.close(r));
    restore = await setSettings({ 'etcdBackup.clusters': [], 'etcdBackup.refreshIntervalSeconds': 0 });
    await vscode.commands.executeCommand('etcdBackup.clusters.focus');
    // etcd3 (grpc, protobufjs, the protos) loads once, on the first cluster asked (2-3 s on a loaded
    // 2-core machine): the measure below is of the tree, so load it first.
    await setSettings({ 'etcdBackup.clusters': [{ name: 'warm-up', endpoints: cluster.endpoints }] });
    await api.clustersTree.refresh('warm-up');
    await setSettings({ 'etcdBackup.clusters': [] });
  });

  after(async () => {
    await restore?.();
    sockets.forEach((s) => s.destroy());
    await new Promise((r) => silent.close(r));
    await cluster?.stop();
  });

  it('live rows show their status before the silent one gives up; the silent row says "still trying (5 s deadline)"', async function () {
    const live = Array.from({ length: 8 }, (_, i) => ({ name: `live-${i + 1}`, endpoints: cluster.endpoints, timeoutMs: 5000 }));
    const clusters = [
      ...live.slice(0, 4),
      { name: 'refusing', endpoints: [`http://127.0.0.1:${refusedPort}`], timeoutMs: 5000 },
      { name: 'silent', endpoints: [`http://127.0.0.1:${silentPort}`], timeoutMs: 5000 },
      ...live.slice(4),
    ];
    const before = Date.now();
    await setSettings({ 'etcdBackup.clusters': clusters });
    // The clock starts when the settings hold the clusters (writing settings.json takes seconds on a loaded machine).
    const t0 = Date.now();
    const settingsMs = t0 - before;
    await vscode.commands.executeCommand('etcdBackup.clusters.focus');
    const settledAt = new Map<string, number>();
    const stillTrying: string[] = [];
    let busyWhileSilent = false;
    while (Date.now() - t0 < 30_000 && settledAt.size < clusters.length) {
      const rows = api.clustersTree.rows();
      for (const r of rows) {
        if (!settledAt.has(r.label) && settledStatus(r)) settledAt.set(r.label, Date.now() - t0);
      }
      const s = rows.find((r) => r.label === 'silent');
      if (s?.description?.startsWith('still trying')) {
        stillTrying.push(s.description);
        busyWhileSilent ||= api.clustersTree.busy();
      }
      await new Promise((r) => setTimeout(r, 20));
    }
    const times = Object.fromEntries(settledAt);
    const liveTimes = live.map((c) => settledAt.get(c.name));
    assert.ok(liveTimes.every((t) => t !== undefined), `a live row never showed a status: ${JSON.stringify(times)}`);
    const slowestLive = Math.max(...(liveTimes as number[]));
    const silentAt = settledAt.get('silent');
    // The figures, in the result line (ms after the settings named the clusters).
    if (this.test) this.test.title += ` [settings written in ${settingsMs} ms; then slowest live ${slowestLive} ms, silent ${silentAt} ms: ${JSON.stringify(times)}]`;
    assert.ok(silentAt !== undefined && silentAt >= 4500, `the silent cluster gave up after its 5 s deadline: ${silentAt} ms`);
    // The machine is shared and loaded: 1 s is the goal, 3 s the bound; and always well before the silent one's deadline.
    assert.ok(slowestLive < 3000, `every live status within 3 s (goal 1 s): slowest ${slowestLive} ms`);
    assert.ok(slowestLive < silentAt - 1500, `live statuses (${slowestLive} ms) did not wait for the silent cluster (${silentAt} ms)`);
    assert.ok(stillTrying.length > 0, 'the silent row never said "still trying"');
    assert.deepStrictEqual([...new Set(stillTrying)], ['still trying (5 s deadline)']);
    assert.ok(busyWhileSilent, "the view's progress did not show while the silent cluster was being asked");
    const rows = api.clustersTree.rows();
    assert.match(rows.find((r) => r.label === 'refusing')?.description ?? '', /^unreachable: connection refused/);
    assert.match(rows.find((r) => r.label === 'silent')?.description ?? '', /^unreachable: timeout/);
    assert.match(rows.find((r) => r.label === 'live-1')?.description ?? '', /^1\/1 healthy · leader /);
    await new Promise((r) => setTimeout(r, 100));
    assert.strictEqual(api.clustersTree.busy(), false, 'the progress ends when every cluster settled');
  });
});
