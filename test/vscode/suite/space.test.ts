/**
 * Compact and Defragment… inside the real extension host, against a real 1-member etcd driven
 * into the NOSPACE alarm (a 16 MiB --quota-backend-bytes): the tree says the way out, the
 * command (answers `{ confirm: true }`, no UI) clears the alarm, returns the sizes before and
 * after, and the tree shows the member healthy again.
 */
import * as assert from 'assert';
import * as vscode from 'vscode';
import type { ReclaimCommandResult } from '../../../src/commands/space';
import type { DumpedNode } from '../../../src/views/clustersView';
import type { ExtensionApi } from '../../../src/extension';
import { fillUntilNospace } from '../../support/etcdData';
import { EtcdTestCluster, startCluster } from '../../support/etcdRig';
import { activateExtension, setSettings, waitFor } from '../support';

const NAME = 'vscode-nospace';

describe('Compact and Defragment with a real etcd in NOSPACE', function () {
  this.timeout(120_000);
  let api: ExtensionApi;
  let cluster: EtcdTestCluster;
  let restore: () => Promise<void>;

  async function clusterNode(): Promise<DumpedNode | undefined> {
    return (await api.clustersTree.dump(false)).find((d) => d.label === NAME);
  }

  before(async () => {
    api = (await activateExtension()).api;
    cluster = await startCluster({ members: 1, name: 'vsns', clientTimeoutMs: 3000, extraArgs: [`--quota-backend-bytes=${16 * 1024 * 1024}`] });
    const filled = await fillUntilNospace(cluster);
    assert.match(filled.error, /database space exceeded/);
    restore = await setSettings({
      'etcdBackup.clusters': [{ name: NAME, endpoints: cluster.endpoints, timeoutMs: 3000 }],
      'etcdBackup.refreshIntervalSeconds': 0,
    });
  });

  after(async () => {
    await restore?.();
    await cluster?.stop();
  });

  it('the tree names the way out of NOSPACE; the command clears the alarm and returns the sizes', async () => {
    await api.clustersTree.refresh(NAME);
    const node = (await waitFor(async () => {
      const n = await clusterNode();
      return n?.description?.includes('NOSPACE') ? n : undefined;
    }, 20_000, 'the NOSPACE summary')) as DumpedNode;
    assert.match(node.description ?? '', /^0\/1 healthy · NOSPACE alarm: run Compact and Defragment… · leader vsns-m1/);
    const member = node.children?.find((c) => c.contextValue?.startsWith('member:'));
    assert.match(member?.tooltip ?? '', /Compact and Defragment/);
    assert.match((await cluster.etcdctlOk(['alarm', 'list'])).trim(), /alarm:NOSPACE/);

    const r = (await vscode.commands.executeCommand('etcdBackup.reclaimSpace', NAME, { confirm: true })) as ReclaimCommandResult | undefined;
    assert.ok(r, `the command returned nothing: ${api.lastCommandError('etcdBackup.reclaimSpace')}`);
    assert.strictEqual(r.done, true);
    const res = r.result;
    assert.ok(res);
    assert.strictEqual(res.members.length, 1);
    const m = res.members[0];
    const status = await cluster.memberStatus(cluster.members[0]);
    assert.strictEqual(m.after?.dbSize, status.dbSize, 'size after = etcdctl endpoint status dbSize');
    assert.ok(m.before.dbSize > 8 * 1024 * 1024 && status.dbSize < m.before.dbSize / 2, `db ${m.before.dbSize} -> ${status.dbSize}`);
    assert.deepStrictEqual(res.disarmed.map((a) => a.alarm), ['NOSPACE']);
    assert.deepStrictEqual(res.alarmsAfter, []);
    assert.match(r.message ?? '', /vsns-m1: \d+(\.\d)? MB -> .*Disarmed NOSPACE: the cluster accepts writes again\./);
    assert.strictEqual((await cluster.etcdctlOk(['alarm', 'list'])).trim(), '');
    await cluster.etcdctlOk(['put', '/after/reclaim', 'ok']);

    // The command refreshed the tree: healthy again, no NOSPACE hint.
    const after = (await waitFor(async () => {
      const n = await clusterNode();
      return n?.description?.startsWith('1/1 healthy') ? n : undefined;
    }, 20_000, 'the healthy summary')) as DumpedNode;
    assert.ok(!after.description?.includes('NOSPACE'));
  });

  it('is declared with category and icon, on reachable cluster nodes and in the palette', () => {
    const pkg = vscode.extensions.getExtension('etcd-backup.etcd-backup')?.packageJSON as {
      contributes: { commands: { command: string; title: string; category?: string; icon?: string }[]; menus: Record<string, { command: string; when?: string; group?: string }[]> };
    };
    const decl = pkg.contributes.commands.find((x) => x.command === 'etcdBackup.reclaimSpace');
    assert.strictEqual(decl?.title, 'Compact and Defragment…');
    assert.strictEqual(decl?.category, 'etcd');
    assert.match(decl?.icon ?? '', /^\$\(.+\)$/);
    const entry = pkg.contributes.menus['view/item/context'].find((x) => x.command === 'etcdBackup.reclaimSpace');
    assert.ok(entry?.when?.includes('viewItem =~ /^cluster:reachable/'), entry?.when);
    assert.ok(!(pkg.contributes.menus.commandPalette ?? []).some((x) => x.command === 'etcdBackup.reclaimSpace'), 'hidden from the palette');
  });

  it('does nothing without confirmation: in etcd, the old revision is still readable and the size unchanged', async () => {
    const put = async (v: string): Promise<number> => {
      const out = await cluster.etcdctlOk(['put', '/history/k', v, '-w', 'json']);
      return (JSON.parse(out) as { header: { revision: number } }).header.revision;
    };
    const oldRev = await put('old');
    await put('new');
    const sizeBefore = (await cluster.memberStatus(cluster.members[0])).dbSize;
    const r = (await vscode.commands.executeCommand('etcdBackup.reclaimSpace', NAME, { confirm: false })) as ReclaimCommandResult | undefined;
    assert.deepStrictEqual(r, { cluster: NAME, done: false });
    const old = await cluster.etcdctl(['get', '/history/k', `--rev=${oldRev}`, '--print-value-only']);
    assert.strictEqual(old.code, 0, `the old revision is still readable (nothing compacted): ${old.stderr}`);
    assert.strictEqual(old.stdout.trim(), 'old');
    const sizeAfter = (await cluster.memberStatus(cluster.members[0])).dbSize;
    assert.strictEqual(sizeAfter, sizeBefore, 'the database size is unchanged (nothing defragmented)');
  });
});
