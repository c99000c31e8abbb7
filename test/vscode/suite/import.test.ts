/**
 * "Import Cluster from etcd File…" and the offers to write into a member's files, inside the real
 * extension host: the fixture manifest and env file become clusters with the right fields; a
 * manifest pointing at a real TLS cluster whose PKI is laid out as kubeadm's connects and is
 * saved with kubeadm's healthcheck-client pair; malformed manifests and a Pod without etcd get
 * their sentence and save nothing; after Replace Member and Restore the member's file gets the
 * expected edit, in the editor, unsaved.
 */
import * as assert from 'assert';
import { existsSync, mkdirSync, mkdtempSync, readFileSync, rmSync, writeFileSync } from 'fs';
import { tmpdir } from 'os';
import { join } from 'path';
import * as vscode from 'vscode';
import { EtcdTestCluster, startCluster, TestMember, testPki } from '../../support/etcdRig';
import { activateExtension, setSettings, waitFor, workspaceFolder } from '../support';
import { kubeadmManifest } from '../../support/manifests';

interface SavedCluster {
  name: string;
  endpoints: string[];
  tls?: { caFile?: string; certFile?: string; keyFile?: string };
  snapshotDir?: string;
  timeoutMs?: number;
}

interface ImportResult {
  saved: boolean;
  file?: string;
  cluster?: SavedCluster;
  warnings: string[];
  problem?: string;
  test?: { ok: boolean; message: string };
  source?: string;
}

function userClusters(): SavedCluster[] {
  return (vscode.workspace.getConfiguration('etcdBackup').inspect<SavedCluster[]>('clusters')?.globalValue ?? []) as SavedCluster[];
}


describe('Import Cluster from etcd File and the member-file offers (VS Code)', function () {
  this.timeout(120_000);
  let root: string;
  let restoreSettings: (() => Promise<void>) | undefined;
  const clusters: EtcdTestCluster[] = [];
  const extra: TestMember[] = [];

  before(async () => {
    await activateExtension();
    root = mkdtempSync(join(tmpdir(), 'etcd-backup-vscode-import-'));
    restoreSettings = await setSettings({ 'etcdBackup.clusters': [], 'etcdBackup.refreshIntervalSeconds': 0 });
  });
  after(async () => {
    await vscode.commands.executeCommand('workbench.action.closeAllEditors');
    await Promise.all(extra.map((m) => m.stop(1000)));
    await Promise.all(clusters.map((c) => c.stop()));
    await restoreSettings?.();
    rmSync(root, { recursive: true, force: true });
  });

  it('the fixture manifest (through its "Add as cluster" CodeLens) and env file become clusters with the right fields', async () => {
    const manifest = vscode.Uri.joinPath(workspaceFolder(), 'etcd.yaml');
    const env = vscode.Uri.joinPath(workspaceFolder(), 'etcd.env');

    // The CodeLens at the top of the manifest runs this command with the document's Uri.
    const doc = await vscode.workspace.openTextDocument(manifest);
    await vscode.window.showTextDocument(doc);
    const lens = (await waitFor(async () => {
      const lenses = (await vscode.commands.executeCommand<vscode.CodeLens[]>('vscode.executeCodeLensProvider', manifest)) ?? [];
      return lenses.find((l) => l.command?.command === 'etcdBackup.importCluster');
    }, 15_000, 'the "Add as cluster" CodeLens')) as vscode.CodeLens;
    const args = lens.command?.arguments ?? [];
    assert.ok(args[0] instanceof vscode.Uri && args[0].fsPath === manifest.fsPath, 'the lens passes the document Uri');
    // The certificates it names are not on this machine: the connection test says which is missing, and nothing is saved.
    const missing = (await vscode.commands.executeCommand('etcdBackup.importCluster', ...args, { timeoutMs: 1000 })) as ImportResult;
    assert.strictEqual(missing?.saved, false);
    assert.strictEqual(missing.test?.message, 'The CA file /etc/kubernetes/pki/etcd/ca.crt of cluster "controlplane" does not exist. Fix the path in the cluster\'s settings.');
    assert.deepStrictEqual(userClusters(), []);
    const m = (await vscode.commands.executeCommand('etcdBackup.importCluster', ...args, { test: false })) as ImportResult;
    assert.ok(m?.saved, `saved: ${JSON.stringify(m)}`);
    assert.strictEqual(m.file, manifest.fsPath);
    assert.strictEqual(m.source, 'user');
    // Nothing under /etc/kubernetes on this machine: the manifest's own server pair, and warnings that say so.
    assert.ok(!existsSync('/etc/kubernetes/pki/etcd/healthcheck-client.crt'));
    const expectedManifest: SavedCluster = {
      name: 'controlplane',
      endpoints: ['https://192.168.56.10:2379'],
      tls: { caFile: '/etc/kubernetes/pki/etcd/ca.crt', certFile: '/etc/kubernetes/pki/etcd/server.crt', keyFile: '/etc/kubernetes/pki/etcd/server.key' },
      snapshotDir: '/var/backups/etcd/controlplane',
    };
    assert.deepStrictEqual(userClusters(), [expectedManifest]);
    assert.ok(m.warnings.includes('caFile /etc/kubernetes/pki/etcd/ca.crt does not exist on this machine.'), m.warnings.join('\n'));

    // The env file, from the explorer's context menu (a Uri); the palette's answers form gives a file.
    const e = (await vscode.commands.executeCommand('etcdBackup.importCluster', env, { test: false, snapshotDir: null })) as ImportResult;
    assert.ok(e?.saved);
    assert.deepStrictEqual(userClusters()[1], { name: 'etcd1', endpoints: ['http://192.168.10.11:2379'] });
    // Importing the same file again: the name is made unique, nothing is overwritten.
    const again = (await vscode.commands.executeCommand('etcdBackup.importCluster', { file: env.fsPath, test: false })) as ImportResult;
    assert.strictEqual(again?.cluster?.name, 'etcd1-2');
    assert.deepStrictEqual(userClusters().map((c) => c.name), ['controlplane', 'etcd1', 'etcd1-2']);

    // The menus offer it where the file is.
    const pkg = JSON.parse(readFileSync(join(process.env.ETCD_BACKUP_REPO ?? '', 'package.json'), 'utf8')) as {
      contributes: { commands: { command: string; category?: string }[]; menus: Record<string, { command: string; when?: string }[]> };
    };
    assert.strictEqual(pkg.contributes.commands.find((c) => c.command === 'etcdBackup.importCluster')?.category, 'etcd');
    for (const menu of ['explorer/context', 'editor/title/context']) {
      const when = pkg.contributes.menus[menu]?.find((x) => x.command === 'etcdBackup.importCluster')?.when ?? '';
      const re = new RegExp((/resourceFilename =~ \/(.*)\/i/.exec(when) ?? [])[1] ?? '^$', 'i');
      for (const f of ['etcd.yaml', 'etcd.env', 'etcd.conf.yml', 'etcd.service']) assert.ok(re.test(f), `${menu} offers ${f}`);
      assert.ok(!re.test('kube-apiserver.yaml'), `${menu} leaves other YAML alone`);
    }
    await setSettings({ 'etcdBackup.clusters': [] });
  });

  it('a manifest in kubeadm\'s layout pointing at a real TLS cluster connects and is saved with the healthcheck-client pair; a failed test saves nothing', async () => {
    const c = await startCluster({ members: 1, tls: true, name: 'vs-import' });
    clusters.push(c);
    const pki = await testPki();
    const [member] = c.members;
    const file = join(root, 'kubeadm', 'etcd.yaml');
    mkdirSync(join(root, 'kubeadm'));
    writeFileSync(file, kubeadmManifest({ name: member.name, clientURL: member.clientURL, peerURL: member.peerURL, pkiDir: pki.dir, dataHostPath: join(root, 'data') }));

    const r = (await vscode.commands.executeCommand('etcdBackup.importCluster', vscode.Uri.file(file), {})) as ImportResult;
    assert.ok(r?.saved, `saved: ${JSON.stringify(r)}`);
    assert.ok(r.test?.ok, r.test?.message);
    assert.match(r.test?.message ?? '', /^Connected to "vs-import-m1": 1\/1 healthy/);
    assert.deepStrictEqual(r.warnings, []);
    assert.deepStrictEqual(userClusters(), [
      {
        name: member.name,
        endpoints: [member.clientURL],
        tls: { caFile: join(pki.dir, 'ca.crt'), certFile: join(pki.dir, 'healthcheck-client.crt'), keyFile: join(pki.dir, 'healthcheck-client.key') },
        snapshotDir: `/var/backups/etcd/${member.name}`,
      },
    ]);

    // The same manifest with an endpoint nobody answers: the test fails, nothing is saved.
    const dead = (await vscode.commands.executeCommand('etcdBackup.importCluster', vscode.Uri.file(file), { name: 'nobody-home', endpoints: 'https://127.0.0.1:1', timeoutMs: 1000 })) as ImportResult;
    assert.strictEqual(dead?.saved, false);
    assert.strictEqual(dead.test?.ok, false);
    assert.deepStrictEqual(userClusters().map((x) => x.name), [member.name]);
    // A name already configured is refused with its sentence.
    const dup = (await vscode.commands.executeCommand('etcdBackup.importCluster', vscode.Uri.file(file), { name: member.name.toUpperCase(), test: false })) as ImportResult;
    assert.strictEqual(dup?.problem, `A cluster named "${member.name.toUpperCase()}" already exists. Choose another name, or edit that one.`);
    assert.strictEqual(userClusters().length, 1);
    await setSettings({ 'etcdBackup.clusters': [] });
  });

  it('a malformed manifest, a Pod without an etcd container, a file that is not etcd\'s and a missing file each get their sentence and save nothing', async () => {
    const broken = join(root, 'broken.yaml');
    writeFileSync(broken, 'apiVersion: v1\nkind: Pod\nmetadata:\n  name: etcd\nspec:\n  containers:\n  - command:\n    - etcd\n    - --data-dir=/var/lib/etcd\n   - --name=oops\n    name: etcd\n');
    const web = join(root, 'web.yaml');
    writeFileSync(web, 'apiVersion: v1\nkind: Pod\nmetadata:\n  name: web\nspec:\n  containers:\n  - name: nginx\n    image: nginx:1.27\n    command: ["nginx", "-g", "daemon off;"]\n');
    const notes = join(root, 'notes.conf');
    writeFileSync(notes, 'hello world\n');
    const noUrl = join(root, 'etcd-no-url.env');
    writeFileSync(noUrl, 'ETCD_NAME=lonely\nETCD_DATA_DIR=/var/lib/etcd\n');
    const cases: [string, string][] = [
      [broken, 'Cannot import broken.yaml: its YAML does not parse at line 10 (All sequence items must start at the same column); fix that line and run the import again.'],
      [web, "Cannot import web.yaml: the Pod has no container that runs etcd; choose etcd's own static pod manifest (kubeadm: /etc/kubernetes/manifests/etcd.yaml)."],
      [notes, "Cannot import notes.conf: it is not an etcd file; choose etcd's static pod manifest (etcd.yaml), an etcd.env with ETCD_* variables, an etcd config file or the systemd unit that runs etcd."],
      [noUrl, `${noUrl} names no client URL (--advertise-client-urls or --listen-client-urls), so there is no endpoint to connect to; add --advertise-client-urls (ETCD_ADVERTISE_CLIENT_URLS) to it, or use "etcd: Add Cluster…".`],
      [join(root, 'absent.yaml'), `${join(root, 'absent.yaml')} does not exist; choose the etcd file to import.`],
    ];
    for (const [file, sentence] of cases) {
      const r = (await vscode.commands.executeCommand('etcdBackup.importCluster', vscode.Uri.file(file), {})) as ImportResult;
      assert.strictEqual(r?.saved, false, file);
      assert.strictEqual(r.problem, sentence);
    }
    assert.deepStrictEqual(userClusters(), []);
  });

  it('after Replace Member the new member\'s env file gets initial-cluster-state existing and the new initial-cluster, shown as a diff, written only on "Write"', async () => {
    const startedAt = Date.now();
    const c = await startCluster({ members: 3, name: 'vs-imp-rep' });
    clusters.push(c);
    await setSettings({ 'etcdBackup.clusters': [c.clusterConfig()] });
    const dead = c.members[2];
    const envFile = join(root, 'member3', 'etcd.env');
    mkdirSync(join(root, 'member3'));
    const original = [
      `# ${dead.name}: read by etcd.service`,
      `ETCD_NAME=${dead.name}`,
      'ETCD_DATA_DIR=/var/lib/etcd',
      `ETCD_INITIAL_ADVERTISE_PEER_URLS="${dead.peerURL}"`,
      `ETCD_INITIAL_CLUSTER="${c.members.map((m) => `${m.name}=${m.peerURL}`).join(',')}"`,
      'ETCD_INITIAL_CLUSTER_STATE="new"',
      '',
    ].join('\n');
    writeFileSync(envFile, original);
    await dead.kill();
    await c.waitLeader({ members: c.members.slice(0, 2) });
    await new Promise((r) => setTimeout(r, Math.max(0, startedAt + 5500 - Date.now())));
    const r = (await vscode.commands.executeCommand('etcdBackup.replaceMember', { cluster: c.name, member: dead.name }, {
      confirm: true,
      localDataDir: null,
      show: false,
      memberFile: envFile,
    })) as { replaced: boolean; result: { env: Record<string, string>; added: { id: string } }; memberFile: { changed: boolean; saved: boolean; via: string; text: string; changes: string[]; mismatch?: string } };
    assert.ok(r?.replaced, 'replaced');
    const ic = r.result.env.ETCD_INITIAL_CLUSTER;
    assert.ok(ic.includes(`${dead.name}=${dead.peerURL}`), ic);
    const expected = original.replace(/^ETCD_INITIAL_CLUSTER="[^"]*"$/m, `ETCD_INITIAL_CLUSTER="${ic}"`).replace('ETCD_INITIAL_CLUSTER_STATE="new"', 'ETCD_INITIAL_CLUSTER_STATE="existing"');
    assert.strictEqual(r.memberFile.via, 'diff');
    assert.strictEqual(r.memberFile.saved, false, 'not confirmed: not written');
    assert.strictEqual(r.memberFile.text, expected);
    assert.strictEqual(r.memberFile.mismatch, undefined);
    assert.strictEqual(readFileSync(envFile, 'utf8'), original, 'nothing written to disk');
    assert.ok(!vscode.workspace.textDocuments.some((d) => d.isDirty), 'no editor buffer holds the edit');

    // Replaced again (the replacement never started), this time with "Write and Save": on disk, not dirty.
    const envFile2 = join(root, 'member3', 'etcd-2.env');
    writeFileSync(envFile2, original);
    const r2 = (await vscode.commands.executeCommand('etcdBackup.replaceMember', { cluster: c.name, member: r.result.added.id }, {
      confirm: true,
      name: dead.name,
      peerURLs: [dead.peerURL],
      localDataDir: null,
      show: false,
      memberFile: envFile2,
      saveMemberFile: true,
    })) as { replaced: boolean; result: { env: Record<string, string> }; memberFile: { saved: boolean; text: string } };
    assert.ok(r2?.replaced, `replaced again: ${(await activateExtension()).api.lastCommandError('etcdBackup.replaceMember')}`);
    const expected2 = original
      .replace(/^ETCD_INITIAL_CLUSTER="[^"]*"$/m, `ETCD_INITIAL_CLUSTER="${r2.result.env.ETCD_INITIAL_CLUSTER}"`)
      .replace('ETCD_INITIAL_CLUSTER_STATE="new"', 'ETCD_INITIAL_CLUSTER_STATE="existing"');
    assert.strictEqual(r2.memberFile.saved, true, JSON.stringify(r2.memberFile));
    assert.strictEqual(readFileSync(envFile2, 'utf8'), expected2);
    assert.ok(!vscode.workspace.textDocuments.some((d) => d.isDirty));
    // Open or not (VS Code may have disposed of the document once written), it holds no unsaved edit.
    assert.notStrictEqual(vscode.workspace.textDocuments.find((d) => d.uri.fsPath === envFile2)?.isDirty, true);
    await setSettings({ 'etcdBackup.clusters': [] });
  });

  it('after "Restore here" the manifest\'s --data-dir, mount and etcd-data hostPath point at the restored dir, shown as a diff, not written unless confirmed; the log says how to watch the pod', async () => {
    const c = await startCluster({ members: 1, name: 'vs-imp-res' });
    clusters.push(c);
    const [m] = c.members;
    for (let i = 0; i < 5; i++) await c.etcdctlOk(['put', `/k${i}`, `v${i}`]);
    const snap = join(root, 'snap.db');
    await c.etcdctlOk(['snapshot', 'save', snap]);
    await m.stop();
    const manifestDir = join(root, 'manifests');
    mkdirSync(manifestDir);
    const manifest = join(manifestDir, 'etcd.yaml');
    const pki = await testPki();
    const original = kubeadmManifest({ name: m.name, clientURL: m.clientURL, peerURL: m.peerURL, pkiDir: pki.dir, dataHostPath: m.dataDir });
    writeFileSync(manifest, original);
    const newDir = join(m.dir, 'from-backup');
    const result = (await vscode.commands.executeCommand('etcdBackup.restoreSnapshot', { file: snap }, {
      members: [{ name: m.name, peerURLs: [m.peerURL] }],
      token: 'import-test-token',
      localMember: m.name,
      dataDir: newDir,
      oldDataDir: m.dataDir,
      runbookPath: join(root, 'runbook.md'),
      openRunbook: false,
      manifestPath: manifest,
    })) as { restored?: { dataDir: string }; manifestEdited?: string; manifestEdit?: { text: string; changed: boolean; saved: boolean }; log: string[] };
    assert.ok(result?.restored, 'restored');
    assert.strictEqual(result.manifestEdited, manifest);
    const expected = original
      .replace('    - --data-dir=/var/lib/etcd\n', `    - --data-dir=${newDir}\n`)
      .replace('    - mountPath: /var/lib/etcd\n', `    - mountPath: ${newDir}\n`)
      .replace(`      path: ${m.dataDir}\n`, `      path: ${newDir}\n`);
    assert.notStrictEqual(expected, original);
    assert.strictEqual(result.manifestEdit?.text, expected);
    assert.strictEqual(result.manifestEdit?.saved, false);
    assert.ok(!vscode.workspace.textDocuments.some((d) => d.isDirty), 'no editor buffer holds the edit');
    assert.strictEqual(readFileSync(manifest, 'utf8'), original, 'nothing written to disk');
    assert.ok(result.log.some((l) => l.includes('crictl ps | grep etcd') && l.includes('kubectl -n kube-system get pod')), result.log.join('\n'));

    // A file that cannot be edited (a Pod without etcd) is reported with its sentence; the restore still stands.
    const web = join(manifestDir, 'web.yaml');
    const webText = 'apiVersion: v1\nkind: Pod\nmetadata:\n  name: web\nspec:\n  containers:\n  - name: nginx\n    image: nginx:1.27\n';
    writeFileSync(web, webText);
    const second = (await vscode.commands.executeCommand('etcdBackup.restoreSnapshot', { file: snap }, {
      members: [{ name: m.name, peerURLs: [m.peerURL] }],
      token: 'import-test-token-2',
      localMember: m.name,
      dataDir: join(m.dir, 'from-backup-2'),
      oldDataDir: null,
      runbookPath: join(root, 'runbook-2.md'),
      openRunbook: false,
      manifestPath: web,
    })) as { restored?: { dataDir: string }; manifestEdited?: string; manifestEdit?: { error?: string; changed: boolean }; log: string[] };
    assert.strictEqual(second?.restored?.dataDir, join(m.dir, 'from-backup-2'));
    assert.strictEqual(second.manifestEdited, undefined);
    const sentence = "Cannot edit web.yaml: the Pod has no container that runs etcd; choose etcd's own static pod manifest (kubeadm: /etc/kubernetes/manifests/etcd.yaml).";
    assert.strictEqual(second.manifestEdit?.error, sentence);
    assert.ok(second.log.includes(`${web} was not changed: ${sentence}`), second.log.join('\n'));
    assert.strictEqual(readFileSync(web, 'utf8'), webText);
    assert.ok(!vscode.workspace.textDocuments.some((d) => d.uri.fsPath === web && d.isDirty));
  });
});
