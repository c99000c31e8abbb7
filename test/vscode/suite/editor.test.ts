/**
 * Editor features on etcd's files in the real extension host: the CodeLenses on the fixture
 * etcd.yaml / etcd.env (and on a systemd unit and an etcd config file), executing "Set
 * initial-cluster-state" and "Move data dir…" (its quick pick and folder dialog answered by the
 * test) changes exactly the targeted bytes, each diagnostic appears on a purpose-made document
 * and its quick fix (through vscode.executeCodeActionProvider) clears it, a malformed YAML gets
 * its parse diagnostic and no lenses, and files that are not etcd's get nothing.
 *
 * Purpose-made documents are written to a temporary folder outside the workspace (the
 * selectors match by path pattern, wherever the file is), so other suites see no new files.
 */
import * as assert from 'assert';
import { chmodSync, mkdirSync, mkdtempSync, readFileSync, rmSync, statSync, utimesSync, writeFileSync } from 'fs';
import { tmpdir } from 'os';
import { join } from 'path';
import * as vscode from 'vscode';
import { EtcdDocumentModel } from '../../../src/editor/model';
import { EtcdQuickFixProvider } from '../../../src/editor/quickFixes';
import { applyEditSteps } from '../../../src/commands/offerFileEdits';
import { setInitialClusterState } from '../../../src/core/etcdFiles';
import { createServer } from 'net';
import { EtcdTestCluster, startCluster } from '../../support/etcdRig';
import { activateExtension, setSettings, waitFor, workspaceFolder } from '../support';

type LensSummary = { title: string; line: number; command: string; args: unknown[] };

async function lensesOf(uri: vscode.Uri): Promise<LensSummary[]> {
  const lenses = (await vscode.commands.executeCommand<vscode.CodeLens[]>('vscode.executeCodeLensProvider', uri)) ?? [];
  return lenses
    .filter((l) => l.command?.command.startsWith('etcdBackup.'))
    .map((l) => ({ title: l.command!.title, line: l.range.start.line, command: l.command!.command, args: l.command!.arguments ?? [] }))
    .sort((a, b) => a.line - b.line);
}

function etcdDiagnostics(uri: vscode.Uri, code?: string): vscode.Diagnostic[] {
  return vscode.languages.getDiagnostics(uri).filter((d) => d.source === 'etcd' && (code === undefined || d.code === code));
}

/** The etcd diagnostics with that code, once there are some. */
function diagnosticsAppear(uri: vscode.Uri, code: string, what: string): Promise<vscode.Diagnostic[]> {
  return waitFor(() => {
    const d = etcdDiagnostics(uri, code);
    return d.length ? d : undefined;
  }, 10_000, what) as Promise<vscode.Diagnostic[]>;
}

/** The quick fixes VS Code gets from every provider for a range (as the light bulb would). */
async function quickFixes(uri: vscode.Uri, range: vscode.Range): Promise<vscode.CodeAction[]> {
  const all = (await vscode.commands.executeCommand<(vscode.CodeAction | vscode.Command)[]>('vscode.executeCodeActionProvider', uri, range, vscode.CodeActionKind.QuickFix.value)) ?? [];
  return all.filter((a): a is vscode.CodeAction => 'kind' in a && Boolean(a.kind && vscode.CodeActionKind.QuickFix.contains(a.kind)));
}

/** The extension's provider class asked directly, with the diagnostic in its context. */
async function directQuickFixes(document: vscode.TextDocument, diag: vscode.Diagnostic): Promise<vscode.CodeAction[]> {
  const model = new EtcdDocumentModel();
  const provider = new EtcdQuickFixProvider(model);
  try {
    const token = new vscode.CancellationTokenSource().token;
    return await provider.provideCodeActions(document, diag.range, { diagnostics: [diag], only: undefined, triggerKind: vscode.CodeActionTriggerKind.Invoke }, token);
  } finally {
    provider.dispose();
    model.dispose();
  }
}

/** The one place where two texts differ: [common prefix length, removed, added]. */
function changedBytes(before: string, after: string): [number, string, string] {
  let p = 0;
  while (p < before.length && p < after.length && before[p] === after[p]) p++;
  let s = 0;
  while (s < before.length - p && s < after.length - p && before[before.length - 1 - s] === after[after.length - 1 - s]) s++;
  return [p, before.slice(p, before.length - s), after.slice(p, after.length - s)];
}

describe('editor: CodeLenses, diagnostics and quick fixes on etcd files', function () {
  this.timeout(60_000);
  let root: string;
  let manifest: string;
  let env: string;
  let n = 0;

  /** Write a purpose-made file (a fresh folder each, so names can repeat) and open it. */
  async function open(name: string, text: string): Promise<vscode.TextDocument> {
    const dir = join(root, `case-${++n}`, ...name.split('/').slice(0, -1));
    mkdirSync(dir, { recursive: true });
    const file = join(dir, name.split('/').pop()!);
    writeFileSync(file, text);
    return vscode.workspace.openTextDocument(vscode.Uri.file(file));
  }

  before(async () => {
    await activateExtension();
    root = mkdtempSync(join(tmpdir(), 'etcd-editor-'));
    manifest = readFileSync(join(workspaceFolder().fsPath, 'etcd.yaml'), 'utf8');
    env = readFileSync(join(workspaceFolder().fsPath, 'etcd.env'), 'utf8');
  });
  after(async () => {
    // Edited documents are saved by the tests; nothing is left dirty.
    await vscode.commands.executeCommand('workbench.action.closeAllEditors');
    rmSync(root, { recursive: true, force: true });
  });

  describe('CodeLenses on the fixtures', () => {
    it('etcd.yaml: Add as cluster and Restore… at the top (pre-filled), both initial-cluster-state choices at the top (it is absent), Move data dir… on --data-dir', async () => {
      const uri = vscode.Uri.joinPath(workspaceFolder(), 'etcd.yaml');
      const doc = await vscode.workspace.openTextDocument(uri);
      const lenses = (await waitFor(async () => {
        const l = await lensesOf(uri);
        return l.length ? l : undefined;
      }, 20_000, 'CodeLenses on etcd.yaml')) as LensSummary[];
      const dataDirLine = doc.getText().split('\n').findIndex((l) => l.includes('--data-dir=/var/lib/etcd'));
      assert.deepStrictEqual(
        lenses.map((l) => [l.title, l.line, l.command]),
        [
          ['Add as cluster', 0, 'etcdBackup.importCluster'],
          ['Restore a snapshot for this member…', 0, 'etcdBackup.restoreSnapshotForMember'],
          ['Set initial-cluster-state: existing', 0, 'etcdBackup.setInitialClusterState'],
          ['Set initial-cluster-state: new', 0, 'etcdBackup.setInitialClusterState'],
          ['Move data dir…', dataDirLine, 'etcdBackup.moveDataDir'],
        ],
      );
      assert.strictEqual((lenses[0].args[0] as vscode.Uri).fsPath, uri.fsPath);
      const restoreArgs = lenses[1].args[0] as { uri: vscode.Uri; name?: string; peerURL?: string; initialCluster?: string; dataDir?: string };
      assert.strictEqual(restoreArgs.uri.fsPath, uri.fsPath);
      assert.deepStrictEqual(
        { name: restoreArgs.name, peerURL: restoreArgs.peerURL, initialCluster: restoreArgs.initialCluster, dataDir: restoreArgs.dataDir },
        { name: 'controlplane', peerURL: 'https://192.168.56.10:2380', initialCluster: 'controlplane=https://192.168.56.10:2380', dataDir: '/var/lib/etcd' },
      );
      assert.deepStrictEqual(lenses[2].args.slice(1), ['existing']);
      assert.deepStrictEqual(lenses[3].args.slice(1), ['new']);
      // The fixture has nothing to complain about.
      assert.deepStrictEqual(etcdDiagnostics(uri).map((d) => d.code), []);
    });

    it('etcd.env: Move data dir… on ETCD_DATA_DIR, "existing" on ETCD_INITIAL_CLUSTER_STATE="new", whose hint is there too', async () => {
      const uri = vscode.Uri.joinPath(workspaceFolder(), 'etcd.env');
      const doc = await vscode.workspace.openTextDocument(uri);
      const lines = doc.getText().split('\n');
      const lenses = await lensesOf(uri);
      assert.deepStrictEqual(
        lenses.map((l) => [l.title, l.line]),
        [
          ['Add as cluster', 0],
          ['Restore a snapshot for this member…', 0],
          ['Move data dir…', lines.indexOf('ETCD_DATA_DIR=/data/etcd.data')],
          ['Set initial-cluster-state: existing', lines.indexOf('ETCD_INITIAL_CLUSTER_STATE="new"')],
        ],
      );
      const restoreArgs = lenses[1].args[0] as { name?: string; initialCluster?: string; dataDir?: string };
      assert.strictEqual(restoreArgs.name, 'etcd1');
      assert.strictEqual(restoreArgs.dataDir, '/data/etcd.data');
      assert.match(restoreArgs.initialCluster ?? '', /^etcd1=http:\/\/192\.168\.10\.11:2380,etcd2=/);
      const hints = await diagnosticsAppear(uri, 'initial-cluster-state-new', 'the initial-cluster-state hint');
      assert.strictEqual(hints[0].severity, vscode.DiagnosticSeverity.Hint);
      assert.strictEqual(hints[0].range.start.line, lines.indexOf('ETCD_INITIAL_CLUSTER_STATE="new"'));
    });

    it('a systemd unit and an etcd config file get their lenses on their own lines', async () => {
      const unit = await open(
        'etcd.service',
        '[Unit]\nDescription=etcd\n\n[Service]\nType=notify\nExecStart=/usr/local/bin/etcd \\\n  --name node1 \\\n  --data-dir /var/lib/etcd \\\n  --initial-cluster-state new \\\n  --initial-cluster node1=http://10.0.0.1:2380,node2=http://10.0.0.2:2380 \\\n  --initial-advertise-peer-urls http://10.0.0.1:2380\n\n[Install]\nWantedBy=multi-user.target\n',
      );
      assert.deepStrictEqual(
        (await lensesOf(unit.uri)).map((l) => [l.title, l.line]),
        [
          ['Add as cluster', 0],
          ['Restore a snapshot for this member…', 0],
          ['Move data dir…', 7],
          ['Set initial-cluster-state: existing', 8],
        ],
      );
      const config = await open('etcd.conf.yml', '# etcd config\nname: infra1\ndata-dir: /var/lib/etcd/infra1\ninitial-cluster-state: existing\n');
      assert.deepStrictEqual(
        (await lensesOf(config.uri)).map((l) => [l.title, l.line]),
        [
          ['Add as cluster', 0],
          ['Restore a snapshot for this member…', 0],
          ['Move data dir…', 2],
          ['Set initial-cluster-state: new', 3],
        ],
      );
    });
  });

  describe('executing the lenses changes exactly the targeted bytes', () => {
    it('"Set initial-cluster-state: existing" on an env file replaces new with existing, nothing else', async () => {
      const doc = await open('etcd.env', env);
      const lens = (await lensesOf(doc.uri)).find((l) => l.title === 'Set initial-cluster-state: existing');
      assert.ok(lens);
      const r = await vscode.commands.executeCommand<{ applied: boolean; changes: string[] }>(lens.command, ...lens.args, { write: true });
      assert.strictEqual(r?.applied, true);
      assert.strictEqual(readFileSync(doc.uri.fsPath, 'utf8'), env.replace('ETCD_INITIAL_CLUSTER_STATE="new"', 'ETCD_INITIAL_CLUSTER_STATE="existing"'));
      assert.deepStrictEqual(changedBytes(env, doc.getText()).slice(1), ['new', 'existing']);
      assert.ok(!doc.isDirty, 'written to disk on "Write", no buffer left dirty');
      // The hint it answered goes away, and the lens now offers "new".
      await waitFor(() => etcdDiagnostics(doc.uri, 'initial-cluster-state-new').length === 0, 10_000, 'the hint to clear');
      assert.deepStrictEqual((await lensesOf(doc.uri)).filter((l) => l.command === 'etcdBackup.setInitialClusterState').map((l) => l.title), ['Set initial-cluster-state: new']);
      await doc.save();
    });

    it('"Set initial-cluster-state: existing" on the manifest adds the flag after the last one, in its style', async () => {
      const doc = await open('etcd.yaml', manifest);
      const lens = (await lensesOf(doc.uri)).find((l) => l.title === 'Set initial-cluster-state: existing');
      assert.ok(lens);
      await vscode.commands.executeCommand(lens.command, ...lens.args, { write: true });
      const last = '    - --trusted-ca-file=/etc/kubernetes/pki/etcd/ca.crt\n';
      assert.strictEqual(doc.getText(), manifest.replace(last, `${last}    - --initial-cluster-state=existing\n`));
      await doc.save();
    });

    it('"Move data dir…" offers the restored dir first and points --data-dir, the mount and the hostPath at it', async () => {
      const node = join(root, `node-${++n}`, 'var-lib');
      const cur = join(node, 'etcd');
      const restored = join(node, 'etcd-from-backup');
      const aside = join(node, 'etcd.old-20260125T101500');
      for (const [d, age] of [
        [cur, 7200],
        [aside, 3600],
        [restored, 60],
      ] as const) {
        mkdirSync(join(d, 'member'), { recursive: true });
        const t = Date.now() / 1000 - age;
        utimesSync(join(d, 'member'), t, t);
      }
      const text = manifest.replace('      path: /var/lib/etcd\n', `      path: ${cur}\n`);
      const doc = await open('etcd.yaml', text);
      const lens = (await lensesOf(doc.uri)).find((l) => l.title === 'Move data dir…');
      assert.ok(lens);
      // The quick pick answered by the test: take the first offered item.
      const r = await vscode.commands.executeCommand<{ dir: string; offered: string[]; applied: boolean; changes: string[] }>(lens.command, ...lens.args, { pick: 0, write: true });
      assert.ok(r, 'the command returned nothing (see the log)');
      assert.deepStrictEqual(r.offered, [restored, aside]);
      assert.strictEqual(r.dir, restored);
      assert.strictEqual(r.changes.length, 3, r.changes.join('; '));
      const expected = text
        .replace('    - --data-dir=/var/lib/etcd\n', `    - --data-dir=${restored}\n`)
        .replace('    - mountPath: /var/lib/etcd\n      name: etcd-data\n', `    - mountPath: ${restored}\n      name: etcd-data\n`)
        .replace(`      path: ${cur}\n`, `      path: ${restored}\n`);
      assert.notStrictEqual(expected, text);
      assert.strictEqual(doc.getText(), expected);
      await doc.save();
    });

    it('"Move data dir…" → Browse… (the folder dialog answered) sets ETCD_DATA_DIR; from the palette it works on the active editor', async () => {
      const doc = await open('etcd.env', env);
      const lens = (await lensesOf(doc.uri)).find((l) => l.title === 'Move data dir…');
      assert.ok(lens);
      const r = await vscode.commands.executeCommand<{ dir: string; applied: boolean }>(lens.command, ...lens.args, { pick: 'browse', browsed: '/srv/etcd-restored', write: true });
      assert.strictEqual(r?.dir, '/srv/etcd-restored');
      assert.strictEqual(doc.getText(), env.replace('ETCD_DATA_DIR=/data/etcd.data', 'ETCD_DATA_DIR=/srv/etcd-restored'));
      // Palette: no argument, the active editor's document.
      await vscode.window.showTextDocument(doc);
      await vscode.commands.executeCommand('etcdBackup.moveDataDir', undefined, { dir: '/srv/etcd-b', write: true });
      assert.strictEqual(doc.getText(), env.replace('ETCD_DATA_DIR=/data/etcd.data', 'ETCD_DATA_DIR=/srv/etcd-b'));
      // The write's diff tab has just closed: the user's editor comes back to the front (VS Code does it a moment later).
      await vscode.window.showTextDocument(doc);
      await vscode.commands.executeCommand('etcdBackup.setInitialClusterState', undefined, 'existing', { write: true });
      assert.strictEqual(doc.getText(), env.replace('ETCD_DATA_DIR=/data/etcd.data', 'ETCD_DATA_DIR=/srv/etcd-b').replace('"new"', '"existing"'));
      await doc.save();
    });
  });

  describe('"Move data dir…" takes a typed absolute path', () => {
    it('a typed absolute dir that does not exist yet is used (normalized); a relative one is refused with a sentence', async () => {
      const doc = await open('etcd.env', env);
      const r = await vscode.commands.executeCommand<{ dir: string; applied: boolean }>('etcdBackup.moveDataDir', doc.uri, { typed: ' /var/lib/etcd-from-backup/ ', write: true });
      assert.strictEqual(r?.dir, '/var/lib/etcd-from-backup');
      assert.strictEqual(readFileSync(doc.uri.fsPath, 'utf8'), env.replace('ETCD_DATA_DIR=/data/etcd.data', 'ETCD_DATA_DIR=/var/lib/etcd-from-backup'));
      const { api } = await activateExtension();
      const refused = await vscode.commands.executeCommand('etcdBackup.moveDataDir', doc.uri, { typed: 'var/lib/etcd', write: true });
      assert.strictEqual(refused, undefined);
      assert.match(String(api.lastCommandError('etcdBackup.moveDataDir')), /"var\/lib\/etcd" is not an absolute path: type one starting with \//);
    });
  });

  describe('with files.autoSave on, nothing reaches disk before "Write"', () => {
    let restore: () => Promise<void>;
    before(async () => {
      restore = await setSettings({ 'files.autoSave': 'afterDelay', 'files.autoSaveDelay': 100 });
    });
    after(async () => restore());

    /** The diff of the file against the proposed (read-only) text, when it is open. */
    function proposedDiff(file: string): vscode.TabInputTextDiff | undefined {
      for (const g of vscode.window.tabGroups.all) {
        for (const t of g.tabs) {
          if (t.input instanceof vscode.TabInputTextDiff && t.input.original.fsPath === file && t.input.modified.scheme === 'etcd-backup-proposed') return t.input;
        }
      }
      return undefined;
    }

    it('Set initial-cluster-state shows a diff; declining leaves the file byte-identical (mode kept), accepting writes it', async () => {
      const doc = await open('etcd.env', env);
      const file = doc.uri.fsPath;
      chmodSync(file, 0o600);
      await vscode.window.showTextDocument(doc);
      const before = readFileSync(file);
      const expected = env.replace('ETCD_INITIAL_CLUSTER_STATE="new"', 'ETCD_INITIAL_CLUSTER_STATE="existing"');
      let seen: { onDisk: string; dirty: boolean; proposed?: string } | undefined;
      const declined = await vscode.commands.executeCommand<{ applied: boolean; declined?: boolean }>('etcdBackup.setInitialClusterState', doc.uri, 'existing', {
        write: async () => {
          // Longer than the auto-save delay: an edit in a buffer would have been flushed by now.
          await new Promise((r) => setTimeout(r, 1000));
          const diff = proposedDiff(file);
          const proposed = diff ? (await vscode.workspace.openTextDocument(diff.modified)).getText() : undefined;
          seen = { onDisk: readFileSync(file, 'utf8'), dirty: vscode.workspace.textDocuments.some((d) => d.isDirty), proposed };
          return false;
        },
      });
      assert.deepStrictEqual(seen, { onDisk: env, dirty: false, proposed: expected });
      assert.strictEqual(declined?.applied, false);
      assert.strictEqual(declined?.declined, true);
      await new Promise((r) => setTimeout(r, 500));
      assert.ok(readFileSync(file).equals(before), 'declined: byte-identical');
      assert.strictEqual(doc.getText(), env);
      assert.ok(!doc.isDirty);
      assert.strictEqual(proposedDiff(file), undefined, 'the diff is closed once answered');
      const accepted = await vscode.commands.executeCommand<{ applied: boolean }>('etcdBackup.setInitialClusterState', doc.uri, 'existing', { write: true });
      assert.strictEqual(accepted?.applied, true);
      assert.strictEqual(readFileSync(file, 'utf8'), expected);
      assert.strictEqual(statSync(file).mode & 0o777, 0o600, 'mode kept');
      await waitFor(() => doc.getText() === expected, 5000, 'the open document to show what was written');
      assert.ok(!doc.isDirty);
    });

    it('offering another member\'s file (etcd.env of etcd1 for demo-m3) warns, naming both', async () => {
      const doc = await open('etcd.env', env.replace(/^ETCD_NAME=.*$/m, 'ETCD_NAME=etcd1'));
      const r = await applyEditSteps(doc.uri.fsPath, [(p) => setInitialClusterState(p, 'existing')], { write: false, memberName: 'demo-m3' });
      assert.match(r.mismatch ?? '', /starts member etcd1, not demo-m3/);
      assert.strictEqual(r.saved, false);
      assert.strictEqual(readFileSync(doc.uri.fsPath, 'utf8'), doc.getText());
    });

    it('an etcd file with unsaved changes in the editor is refused, not written under the user', async () => {
      await setSettings({ 'files.autoSave': 'off' });
      try {
        const doc = await open('etcd.env', env);
        const editor = await vscode.window.showTextDocument(doc);
        await editor.edit((b) => b.insert(new vscode.Position(0, 0), '# mine\n'));
        const r = await vscode.commands.executeCommand('etcdBackup.setInitialClusterState', doc.uri, 'existing', { write: true });
        assert.strictEqual(r, undefined, 'refused');
        assert.strictEqual(readFileSync(doc.uri.fsPath, 'utf8'), env);
        assert.ok(doc.getText().startsWith('# mine\n'));
        await vscode.commands.executeCommand('workbench.action.revertAndCloseActiveEditor');
      } finally {
        await setSettings({ 'files.autoSave': 'afterDelay' });
      }
    });
  });

  describe('diagnostics and their quick fixes', () => {
    const withDataDir = (dir: string): string => manifest.replace('--data-dir=/var/lib/etcd', `--data-dir=${dir}`);
    const cases: { code: string; name: string; text: () => string; severity: vscode.DiagnosticSeverity; fixed?: () => string }[] = [
      { code: 'data-dir-not-mounted', name: 'etcd.yaml', text: () => withDataDir('/data/etcd'), severity: vscode.DiagnosticSeverity.Error, fixed: () => manifest },
      { code: 'data-dir-mount-mismatch', name: 'etcd.yaml', text: () => withDataDir('/etc/kubernetes/pki/etcd/data'), severity: vscode.DiagnosticSeverity.Warning, fixed: () => manifest },
      {
        code: 'data-dir-host-path-differs',
        name: 'etcd.yaml',
        text: () => manifest.replace('      path: /var/lib/etcd\n', '      path: /var/lib/etcd-from-backup\n'),
        severity: vscode.DiagnosticSeverity.Information,
        fixed: () => manifest.replace(/\/var\/lib\/etcd\n/g, '/var/lib/etcd-from-backup\n'),
      },
      {
        code: 'initial-cluster-missing-name',
        name: 'etcd.yaml',
        text: () => manifest.replace('--initial-cluster=controlplane=', '--initial-cluster=cp1='),
        severity: vscode.DiagnosticSeverity.Error,
        fixed: () => manifest,
      },
      {
        code: 'initial-cluster-url-mismatch',
        name: 'etcd.yaml',
        text: () => manifest.replace('--initial-cluster=controlplane=https://192.168.56.10:2380', '--initial-cluster=controlplane=https://192.168.56.99:2380'),
        severity: vscode.DiagnosticSeverity.Error,
        fixed: () => manifest,
      },
      {
        code: 'duplicate-setting',
        name: 'etcd.yaml',
        text: () => manifest.replace('    - --snapshot-count=10000\n', '    - --snapshot-count=5000\n    - --snapshot-count=10000\n'),
        severity: vscode.DiagnosticSeverity.Warning,
        fixed: () => manifest,
      },
      { code: 'unknown-flag', name: 'etcd.yaml', text: () => manifest.replace('--snapshot-count=', '--snapshot-cuont='), severity: vscode.DiagnosticSeverity.Error, fixed: () => manifest },
      { code: 'initial-cluster-state-new', name: 'etcd.env', text: () => env, severity: vscode.DiagnosticSeverity.Hint, fixed: () => env.replace('"new"', '"existing"') },
      { code: 'invalid-initial-cluster-state', name: 'etcd.env', text: () => env.replace('"new"', '"exsting"'), severity: vscode.DiagnosticSeverity.Error, fixed: () => env.replace('"new"', '"existing"') },
      { code: 'unknown-variable', name: 'etcd.env', text: () => env.replace('ETCD_DATA_DIR=', 'ETCD_DATA_DRI='), severity: vscode.DiagnosticSeverity.Warning, fixed: () => env },
      {
        code: 'env-flag-conflict',
        name: 'etcd.service',
        text: () => '[Service]\nEnvironment=ETCD_NAME=node1\nExecStart=/usr/local/bin/etcd --name node1 --data-dir /var/lib/etcd\n',
        severity: vscode.DiagnosticSeverity.Error,
        // Its only assignment: the whole line goes (an empty Environment= would reset the list).
        fixed: () => '[Service]\nExecStart=/usr/local/bin/etcd --name node1 --data-dir /var/lib/etcd\n',
      },
      // Findings with no safe automatic fix: they appear, and no quick fix is offered.
      { code: 'file-not-mounted', name: 'etcd.yaml', text: () => manifest.replace('--cert-file=/etc/kubernetes/pki/etcd/server.crt', '--cert-file=/etc/ssl/server.crt'), severity: vscode.DiagnosticSeverity.Error },
      {
        code: 'volume-not-defined',
        name: 'etcd.yaml',
        text: () => 'apiVersion: v1\nkind: Pod\nmetadata:\n  name: etcd\nspec:\n  containers:\n  - name: etcd\n    command: [etcd, --data-dir=/var/lib/etcd, --name=a]\n    volumeMounts:\n    - {mountPath: /var/lib/etcd, name: etcd-data}\n  volumes: []\n',
        severity: vscode.DiagnosticSeverity.Error,
      },
    ];
    for (const c of cases) {
      it(`${c.code}: appears on its document${c.fixed ? ' and its quick fix clears it, changing only the targeted bytes' : ', with no quick fix'}`, async () => {
        const text = c.text();
        const doc = await open(c.name, text);
        const [diag] = await diagnosticsAppear(doc.uri, c.code, `${c.code} on ${c.name}`);
        assert.strictEqual(diag.severity, c.severity);
        assert.strictEqual(diag.source, 'etcd');
        assert.ok(diag.message.length > 20, diag.message);
        const fixes = await quickFixes(doc.uri, diag.range);
        if (!c.fixed) {
          assert.deepStrictEqual(fixes.map((f) => f.title), []);
          assert.deepStrictEqual(await directQuickFixes(doc, diag), []);
          return;
        }
        assert.strictEqual(fixes.length, 1, `quick fixes: ${fixes.map((f) => f.title).join(', ')}`);
        const [fix] = fixes;
        // executeCodeActionProvider does not return an action's diagnostics: ask the provider itself.
        const direct = await directQuickFixes(doc, diag);
        assert.deepStrictEqual(direct.map((a) => [a.title, a.diagnostics?.length, a.diagnostics?.[0] === diag]), [[fix.title, 1, true]], 'the quick fix carries the diagnostic it fixes');
        assert.ok(fix.edit, 'the quick fix has an edit');
        assert.ok(await vscode.workspace.applyEdit(fix.edit));
        assert.strictEqual(doc.getText(), c.fixed());
        await waitFor(() => etcdDiagnostics(doc.uri, c.code).length === 0, 10_000, `${c.code} to clear`);
        await doc.save();
      });
    }
  });

  it('a unit and the env file it reads (EnvironmentFile=): a variable the command line also passes is flagged in both', async () => {
    const dir = join(root, `pair-${++n}`);
    mkdirSync(dir, { recursive: true });
    const envFile = join(dir, 'etcd.env');
    const envText = 'ETCD_NAME=node1\nETCD_DATA_DIR=/var/lib/etcd\n';
    const unitText = `[Service]\nEnvironmentFile=${envFile}\nExecStart=/usr/bin/etcd --name node1\n`;
    writeFileSync(envFile, envText);
    writeFileSync(join(dir, 'etcd.service'), unitText);
    const unit = await vscode.workspace.openTextDocument(vscode.Uri.file(join(dir, 'etcd.service')));
    const [u] = await diagnosticsAppear(unit.uri, 'env-flag-conflict', 'the conflict on the unit');
    assert.strictEqual(unit.getText(u.range), '--name node1');
    assert.match(u.message, /ETCD_NAME/);
    const env = await vscode.workspace.openTextDocument(vscode.Uri.file(envFile));
    const [e] = await diagnosticsAppear(env.uri, 'env-flag-conflict', 'the conflict on the env file');
    assert.strictEqual(env.getText(e.range), 'ETCD_NAME=node1');
    // Its quick fix removes the variable's line, and the env file's diagnostic clears.
    const [fix] = await quickFixes(env.uri, e.range);
    assert.ok(fix?.edit);
    assert.ok(await vscode.workspace.applyEdit(fix.edit));
    assert.strictEqual(env.getText(), 'ETCD_DATA_DIR=/var/lib/etcd\n');
    await waitFor(() => etcdDiagnostics(env.uri, 'env-flag-conflict').length === 0, 10_000, 'the env file conflict to clear');
    // Saved: the unit reads the env file again and its diagnostic clears too.
    await env.save();
    await waitFor(() => etcdDiagnostics(unit.uri, 'env-flag-conflict').length === 0, 10_000, 'the unit conflict to clear after the save');
  });

  describe('a member joining a running cluster (added, not started yet)', () => {
    let cluster: EtcdTestCluster;
    let restore: (() => Promise<void>) | undefined;
    let joinPeer = '';

    before(async function () {
      this.timeout(120_000);
      cluster = await startCluster({ members: 1, name: 'joining' });
      const probe = createServer();
      await new Promise<void>((r) => probe.listen(0, '127.0.0.1', r));
      joinPeer = `http://127.0.0.1:${(probe.address() as { port: number }).port}`;
      await new Promise((r) => probe.close(r));
      // As Add Member or a replacement leaves it: in the member list, never started.
      await cluster.etcdctlOk(['member', 'add', 'newbie', `--peer-urls=${joinPeer}`, '--learner']);
      restore = await setSettings({ 'etcdBackup.clusters': [{ name: 'joining', endpoints: cluster.endpoints }], 'etcdBackup.refreshIntervalSeconds': 0 });
      const api = (await activateExtension()).api;
      await api.clustersTree.refresh('joining');
    });
    after(async () => {
      await restore?.();
      await cluster?.stop();
    });

    const envOf = (name: string, peer: string, state: string | undefined): string =>
      `ETCD_NAME=${name}\nETCD_DATA_DIR=/var/lib/etcd\nETCD_INITIAL_CLUSTER="${cluster.members[0].name}=${cluster.members[0].peerURL},newbie=${joinPeer}"\n` +
      `ETCD_INITIAL_ADVERTISE_PEER_URLS=${peer}\n${state ? `ETCD_INITIAL_CLUSTER_STATE="${state}"\n` : ''}`;

    it('ETCD_INITIAL_CLUSTER_STATE="new" there is an Error the Problems panel counts; left out (etcd\'s default "new") too; its fix sets existing', async () => {
      const doc = await open('etcd.env', envOf('newbie', joinPeer, 'new'));
      const found = (await waitFor(() => {
        const d = etcdDiagnostics(doc.uri, 'initial-cluster-state-new');
        return d.length && d[0].severity === vscode.DiagnosticSeverity.Error ? d : undefined;
      }, 10_000, 'an Error for initial-cluster-state new on the joining member').catch(() => etcdDiagnostics(doc.uri))) as vscode.Diagnostic[];
      assert.strictEqual(found[0]?.severity, vscode.DiagnosticSeverity.Error, `got ${JSON.stringify(found.map((d) => [d.code, d.severity]))}`);
      assert.strictEqual(doc.getText(found[0].range), 'new');
      assert.match(found[0].message, /Cluster "joining" lists .* added and has not started yet/);
      // The Problems panel counts errors and warnings (hints are not counted).
      const counted = vscode.languages.getDiagnostics(doc.uri).filter((d) => d.severity <= vscode.DiagnosticSeverity.Warning);
      assert.ok(counted.some((d) => d.code === 'initial-cluster-state-new'));
      const [fix] = await quickFixes(doc.uri, found[0].range);
      assert.ok(fix?.edit, 'a quick fix');
      assert.ok(await vscode.workspace.applyEdit(fix.edit));
      assert.match(doc.getText(), /ETCD_INITIAL_CLUSTER_STATE="existing"/);
      await waitFor(() => etcdDiagnostics(doc.uri, 'initial-cluster-state-new').length === 0, 10_000, 'the error to clear');
      await doc.save();

      const unset = await open('etcd.env', envOf('newbie', joinPeer, undefined));
      const [d2] = await diagnosticsAppear(unset.uri, 'initial-cluster-state-new', 'the error when the state is left out');
      assert.strictEqual(d2.severity, vscode.DiagnosticSeverity.Error);
      assert.match(d2.message, /not set \(etcd's default is "new"\)/);
    });

    it('the running member\'s own file keeps the hint (its data dir exists: "new" is ignored there)', async () => {
      const m = cluster.members[0];
      const doc = await open('etcd.env', envOf(m.name, m.peerURL, 'new'));
      const [d] = await diagnosticsAppear(doc.uri, 'initial-cluster-state-new', 'the hint on the running member');
      assert.strictEqual(d.severity, vscode.DiagnosticSeverity.Hint);
    });
  });

  describe('what is not an etcd file, or cannot be read, gets no edits', () => {
    it('a malformed etcd.yaml shows a parse diagnostic and no lenses', async () => {
      const doc = await open('etcd.yaml', manifest.replace('  containers:\n', '  containers:\n   - : [\n'));
      const diags = await diagnosticsAppear(doc.uri, 'yaml-error', 'the YAML error');
      assert.strictEqual(diags[0].severity, vscode.DiagnosticSeverity.Error);
      assert.match(diags[0].message, /YAML does not parse/);
      assert.deepStrictEqual(await lensesOf(doc.uri), []);
      assert.deepStrictEqual(await quickFixes(doc.uri, diags[0].range), []);
      // The commands refuse too, leaving the text as it was.
      const before = doc.getText();
      const r = await vscode.commands.executeCommand('etcdBackup.setInitialClusterState', doc.uri, 'existing', { write: true });
      assert.strictEqual(r, undefined);
      assert.strictEqual(doc.getText(), before);
    });

    it('a non-etcd Pod and a ConfigMap in manifests/, an app .env and an nginx unit get no lenses and no diagnostics', async () => {
      const docs = [
        await open('manifests/kube-apiserver.yaml', 'apiVersion: v1\nkind: Pod\nmetadata:\n  name: kube-apiserver\nspec:\n  containers:\n  - command:\n    - kube-apiserver\n    - --etcd-servers=https://127.0.0.1:2379\n    name: kube-apiserver\n'),
        await open('manifests/config.yaml', 'apiVersion: v1\nkind: ConfigMap\nmetadata:\n  name: x\ndata:\n  a: b\n'),
        await open('app.env', 'DATABASE_URL=postgres://db/app\nDEBUG=1\n'),
        await open('nginx.service', '[Service]\nExecStart=/usr/sbin/nginx -g "daemon off;"\n'),
      ];
      // A known etcd document opened after them: once its diagnostics are there, theirs would be too.
      const probe = await open('etcd.env', env);
      await waitFor(() => etcdDiagnostics(probe.uri).length > 0, 10_000, 'diagnostics on the probe');
      for (const d of docs) {
        assert.deepStrictEqual(await lensesOf(d.uri), [], d.fileName);
        assert.deepStrictEqual(etcdDiagnostics(d.uri).map((x) => x.code), [], d.fileName);
      }
    });
  });
});
