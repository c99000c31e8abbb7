/**
 * Snapshot reader in the real extension host, on a snapshot of a real cluster: the snapshot
 * node's tooltip gets the status figures (computed in the background), "Show Snapshot Report"
 * opens a read-only report with the revision etcdctl gives, the members inside and the
 * keyspace by prefix; "Search Snapshot Keys…" lists a prefix and finds text in values;
 * "Verify Snapshot" passes it and refuses a damaged copy; "Compare
 * Snapshots…" counts the keys added between two snapshots.
 */
import * as assert from 'assert';
import { mkdirSync, mkdtempSync, readFileSync, rmSync, writeFileSync } from 'fs';
import { tmpdir } from 'os';
import { join } from 'path';
import * as vscode from 'vscode';
import { EtcdTestCluster, startCluster } from '../../support/etcdRig';
import { activateExtension, setSettings, treeMenuCommands, waitFor } from '../support';

describe('snapshot reader (VS Code)', function () {
  this.timeout(120_000);
  let root: string;
  let c: EtcdTestCluster;
  let restoreSettings: (() => Promise<void>) | undefined;

  before(async () => {
    await activateExtension();
    root = mkdtempSync(join(tmpdir(), 'etcd-backup-vscode-snapshots-'));
    c = await startCluster({ members: 1, name: 'vs-snapshots' });
  });
  after(async () => {
    await c?.stop();
    await restoreSettings?.();
    rmSync(root, { recursive: true, force: true });
  });

  it('shows the status figures in the tooltip, the report with the revision, searches, verifies and compares', async () => {
    const { api } = await activateExtension();
    const snapDir = join(root, 'snapshots');
    mkdirSync(snapDir);
    for (let i = 0; i < 30; i++) await c.etcdctlOk(['put', `/registry/secrets/ns/s${i}`, `value ${i}`]);
    const first = join(snapDir, '20260124_101500_snapshot.db');
    await c.etcdctlOk(['snapshot', 'save', first]);
    for (let i = 0; i < 5; i++) await c.etcdctlOk(['put', `/registry/pods/ns/p${i}`, `pod ${i}`]);
    const snap = join(snapDir, '20260124_111500_snapshot.db');
    await c.etcdctlOk(['snapshot', 'save', snap]);
    const status = JSON.parse((await c.etcdctlOk(['snapshot', 'status', snap, '-w', 'json'])).trim()) as { hash: number; revision: number; totalKey: number };
    restoreSettings = await setSettings({ 'etcdBackup.clusters': [{ ...c.clusterConfig(), snapshotDir: snapDir }] });

    // The tooltip: first "reading", then the figures, without the tree waiting.
    const node = (await waitFor(
      async () => {
        const t = await api.clustersTree.dump(true);
        const n = t.find((x) => x.label === c.name)?.children?.find((x) => x.label === 'Snapshots')?.children?.find((x) => x.label === '20260124_111500_snapshot.db');
        return n?.tooltip?.includes('Revision') ? n : undefined;
      },
      30_000,
      'the snapshot node with its status tooltip',
    )) as { tooltip?: string; contextValue?: string; description?: string };
    assert.match(node.tooltip ?? '', new RegExp(`Revision\\*\\* \\| ${status.revision} `));
    assert.ok(node.tooltip?.includes(status.hash.toString(16)));
    assert.strictEqual(node.contextValue, 'snapshot:ok');
    assert.match(node.description ?? '', /kB/);

    // The report: a read-only Markdown document with the revision, the member, the prefixes.
    const report = (await vscode.commands.executeCommand('etcdBackup.showSnapshotReport', { file: snap }, { preview: false })) as { uri: vscode.Uri; markdown: string };
    assert.ok(report, 'the report command returned its result');
    assert.match(report.markdown, new RegExp(`\\| Revision \\| ${status.revision} \\|`));
    assert.match(report.markdown, /## Members stored in the snapshot \(1\)/);
    assert.ok(report.markdown.includes(c.members[0].name.replace(/[_]/g, '\\_')) || report.markdown.includes(c.members[0].name));
    assert.match(report.markdown, /`\/registry\/secrets` \| 30 \|/);
    const doc = await vscode.workspace.openTextDocument(report.uri);
    assert.strictEqual(doc.getText(), report.markdown);
    assert.strictEqual(doc.languageId, 'markdown');
    // From the palette with the preview: the report of that file, shown in a Markdown preview tab, no error.
    const firstStatus = JSON.parse((await c.etcdctlOk(['snapshot', 'status', first, '-w', 'json'])).trim()) as { revision: number };
    type Shown = { uri: vscode.Uri; markdown: string } | undefined;
    const shown = (await vscode.commands.executeCommand('etcdBackup.showSnapshotReport', { file: first })) as Shown;
    assert.ok(shown, `the report command returned nothing: ${api.lastCommandError('etcdBackup.showSnapshotReport')}`);
    assert.match(shown.markdown, /^# 20260124\\_101500\\_snapshot\.db\n/, 'the title is the file name (Markdown-escaped)');
    assert.match(shown.markdown, new RegExp(`\\| Revision \\| ${firstStatus.revision} \\|`));
    assert.match(shown.markdown, /`\/registry\/secrets` \| 30 \|/);
    assert.doesNotMatch(shown.markdown, /\/registry\/pods/, 'the first snapshot has no pods yet');
    const preview = await waitFor(
      () =>
        vscode.window.tabGroups.all
          .flatMap((g) => g.tabs)
          .find((t) => t.input instanceof vscode.TabInputWebview && /markdown\.preview/.test(t.input.viewType) && t.label.includes('1015')),
      15_000,
      'a Markdown preview tab of the report',
    );
    assert.ok(preview, vscode.window.tabGroups.all.flatMap((g) => g.tabs).map((t) => t.label).join(', '));

    // Search: a prefix, and text found in values.
    const byPrefix = (await vscode.commands.executeCommand('etcdBackup.searchSnapshotKeys', { file: snap }, { prefix: '/registry/pods/', preview: false })) as { matched: number; keys: string[]; markdown: string };
    assert.strictEqual(byPrefix.matched, 5);
    assert.deepStrictEqual(byPrefix.keys, ['/registry/pods/ns/p0', '/registry/pods/ns/p1', '/registry/pods/ns/p2', '/registry/pods/ns/p3', '/registry/pods/ns/p4']);
    assert.match(byPrefix.markdown, /```text\npod 3\n```/);
    const byText = (await vscode.commands.executeCommand('etcdBackup.searchSnapshotKeys', { file: snap }, { text: 'value 1', preview: false })) as { matched: number; keys: string[] };
    assert.deepStrictEqual(byText.keys.slice(0, 2), ['/registry/secrets/ns/s1', '/registry/secrets/ns/s10']);
    assert.strictEqual(byText.matched, 11, 'value 1, value 10..19');

    // Verify: sound; a damaged copy is refused with the reason.
    const ok = (await vscode.commands.executeCommand('etcdBackup.verifySnapshot', { file: snap }, {})) as { ok: boolean; summary: string };
    assert.strictEqual(ok.ok, true, JSON.stringify(ok));
    const bytes = readFileSync(snap);
    bytes[Math.floor(bytes.length / 2)] ^= 0xff;
    const bad = join(root, 'bad.db');
    writeFileSync(bad, bytes);
    const v = (await vscode.commands.executeCommand('etcdBackup.verifySnapshot', { file: bad }, {})) as { ok: boolean; reason: string };
    assert.strictEqual(v.ok, false);
    assert.match(v.reason, /is corrupt: the SHA-256 of its database/);
    // A copy without the SHA-256 trailer: the hash check could not run, so it is not "sound" (as a restore refuses it)...
    const raw = join(root, 'raw.db');
    writeFileSync(raw, readFileSync(snap).subarray(0, bytes.length - 32));
    type Verified = { ok: boolean; reason: string; hashCheck: string; summary: string };
    const noTrailer = (await vscode.commands.executeCommand('etcdBackup.verifySnapshot', { file: raw }, {})) as Verified;
    assert.strictEqual(noTrailer.ok, false);
    assert.strictEqual(noTrailer.hashCheck, 'noTrailer');
    assert.match(noTrailer.reason, /has no SHA-256 trailer, so its integrity could not be checked/);
    // ...unless the check is skipped, and then it says so.
    const skip = { skipHashCheck: true };
    const structure = (await vscode.commands.executeCommand('etcdBackup.verifySnapshot', { file: raw }, skip)) as Verified;
    assert.strictEqual(structure.ok, true);
    assert.match(structure.summary, /hash check skipped \(no SHA-256 trailer\)/);
    const skipped = (await vscode.commands.executeCommand('etcdBackup.verifySnapshot', { file: snap }, skip)) as Verified;
    assert.match(skipped.summary, /hash check skipped \(the SHA-256 trailer was not compared\)/);

    // Compare: the five pods are new.
    const cmp = (await vscode.commands.executeCommand('etcdBackup.compareSnapshots', { file: first }, { other: snap, preview: false })) as { diff: { added: number; removed: number; changed: number }; markdown: string };
    assert.deepStrictEqual([cmp.diff.added, cmp.diff.removed, cmp.diff.changed], [5, 0, 0]);
    assert.match(cmp.markdown, /`\/registry\/pods` \| 5 \| 0 \| 0 \|/);
  });

  it('Compare Snapshots started from the newer one reads older → newer: a deleted key is Removed, a new one Added; the swap reads the other way', async () => {
    const dir = join(root, 'compare-order');
    mkdirSync(dir);
    await c.etcdctlOk(['put', '/registry/secrets/ns/doomed', 'old']);
    const older = join(dir, '20260124_215814_snapshot.db');
    await c.etcdctlOk(['snapshot', 'save', older]);
    await c.etcdctlOk(['del', '/registry/secrets/ns/doomed']);
    await c.etcdctlOk(['put', '/registry/configmaps/ns/fresh', 'new']);
    const newer = join(dir, '20260124_220348_snapshot.db');
    await c.etcdctlOk(['snapshot', 'save', newer]);
    type Cmp = { uri: vscode.Uri; order: string; markdown: string; diff: { a: { path: string; revision: number }; b: { path: string; revision: number }; added: number; removed: number; samples: { added: string[]; removed: string[] } } };
    const r = (await vscode.commands.executeCommand('etcdBackup.compareSnapshots', { file: newer }, { other: older, preview: false })) as Cmp;
    assert.strictEqual(r.order, 'older → newer');
    assert.strictEqual(r.diff.a.path, older);
    assert.ok(r.diff.a.revision < r.diff.b.revision, `${r.diff.a.revision} < ${r.diff.b.revision}`);
    assert.deepStrictEqual(r.diff.samples.added, ['/registry/configmaps/ns/fresh']);
    assert.deepStrictEqual(r.diff.samples.removed, ['/registry/secrets/ns/doomed']);
    assert.match(r.markdown, /## Added \(first 1\)\n\n- `\/registry\/configmaps\/ns\/fresh`/);
    assert.match(r.markdown, /## Removed \(first 1\)\n\n- `\/registry\/secrets\/ns\/doomed`/);
    assert.ok(decodeURIComponent(r.uri.path).includes('(older → newer)'), r.uri.path);
    // The explicit swap: newer → older, the same keys the other way.
    const s = (await vscode.commands.executeCommand('etcdBackup.compareSnapshots', { file: older }, { other: newer, preview: false, newerFirst: true })) as Cmp;
    assert.strictEqual(s.order, 'newer → older');
    assert.strictEqual(s.diff.a.path, newer);
    assert.deepStrictEqual(s.diff.samples.added, ['/registry/secrets/ns/doomed']);
    assert.deepStrictEqual(s.diff.samples.removed, ['/registry/configmaps/ns/fresh']);
  });

  it('a corrupt or truncated snapshot is snapshot:corrupt, and its menu offers no Restore or Trial Restore', async () => {
    const { api } = await activateExtension();
    const dir = join(root, 'damaged');
    mkdirSync(dir);
    const good = readFileSync(join(process.env.ETCD_BACKUP_REPO ?? '', 'test', 'fixtures', 'snapshots', 'mixed.db'));
    const files = { sound: '20260101_000000_snapshot.db', truncated: '20260101_000100_snapshot.db', garbage: '20260101_000200_snapshot.db' };
    writeFileSync(join(dir, files.sound), good);
    writeFileSync(join(dir, files.truncated), good.subarray(0, Math.floor(good.length / 2)));
    writeFileSync(join(dir, files.garbage), Buffer.alloc(16384, 0x5a));
    await restoreSettings?.();
    restoreSettings = await setSettings({ 'etcdBackup.clusters': [{ ...c.clusterConfig(), snapshotDir: dir }] });

    // The figures are read in the background: wait until no node is still "reading".
    const nodes = (await waitFor(
      async () => {
        const t = await api.clustersTree.dump(true);
        const snaps = t.find((x) => x.label === c.name)?.children?.find((x) => x.label === 'Snapshots')?.children ?? [];
        return snaps.length === 3 && snaps.every((n) => n.contextValue !== 'snapshot:reading') ? snaps : undefined;
      },
      30_000,
      'three snapshot nodes with their figures read',
    )) ?? [];
    const state = (name: string): string | undefined => nodes.find((n) => n.label === name)?.contextValue;
    assert.deepStrictEqual([state(files.sound), state(files.truncated), state(files.garbage)], ['snapshot:ok', 'snapshot:corrupt', 'snapshot:corrupt']);
    assert.match(nodes.find((n) => n.label === files.truncated)?.description ?? '', /corrupt/);

    const onSound = treeMenuCommands('snapshot:ok');
    const onCorrupt = treeMenuCommands('snapshot:corrupt');
    for (const cmd of ['etcdBackup.restoreSnapshot', 'etcdBackup.trialRestore']) {
      assert.ok(onSound.includes(cmd), `${cmd} is offered on a sound snapshot`);
      assert.ok(!onCorrupt.includes(cmd), `${cmd} is not offered on a corrupt one: ${onCorrupt.join(', ')}`);
      assert.ok(treeMenuCommands('snapshot:reading').includes(cmd), `${cmd} is offered while the figures are read`);
    }
    assert.ok(onCorrupt.includes('etcdBackup.verifySnapshot'), 'Verify still says what is wrong with it');
  });
});
