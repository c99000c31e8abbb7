// UI check (real workbench, Playwright), against a real one-member etcd cluster with three backup
// plans run by the real CLI (`etcd-backup backup run`), with files.autoSave on and a narrow side bar:
// - a fresh plan (its backup just made), a late one (its last success moved back 90 minutes in
//   its status file, as when the timer missed a run) and a failing one (its S3 endpoint is
//   closed: the local copy is made, the upload fails) show side by side under the cluster,
//   green, yellow and a red error icon, each with its plan line;
// - hovering the late plan shows its whole line and each destination's age in the tooltip;
// - the failing plan expanded shows the failure's sentence first, then its local backup;
// - a right-click on a backup shows the snapshot commands (report, verify, compare) and Restore.
// Screenshots: test-results/vscode/backups-*.png (media/screenshots/ with --update-screenshots).
import * as assert from 'node:assert/strict';
import { execFileSync } from 'node:child_process';
import { mkdtempSync, readFileSync, rmSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { cli, keepScreenshots, narrowSidebar, setMachineSettings, type UiContext } from './uiHelpers';
import { startCluster } from '../support/etcdRig';

export const title = 'Backups nodes: a fresh, a late and a failing plan side by side (auto-save on, narrow side bar); a backup\'s menu';

const NAME = 'ui-backups';


export default async function (ctx: UiContext): Promise<void> {
  const { page, openActivity, setUserSettings, screenshot, root, userSettingsFile } = ctx;
  const cluster = await startCluster({ members: 1, name: 'uibk' });
  const dir = mkdtempSync(join(tmpdir(), 'etcd-backup-ui-backups-'));
  const sidebar = page.locator('.sidebar').first();
  const shots: string[] = [];
  try {
    for (let i = 0; i < 25; i++) await cluster.etcdctlOk(['put', `/registry/pods/default/p${i}`, `pod ${i}`]);
    const key = join(dir, 'key.txt');
    execFileSync('age-keygen', ['-o', key], { stdio: 'ignore' });
    const recipient = execFileSync('age-keygen', ['-y', key]).toString().trim();
    const credentials = join(dir, 's3.credentials');
    writeFileSync(credentials, '[default]\naws_access_key_id = K\naws_secret_access_key = S\n', { mode: 0o600 });
    const plan = (name: string, extra: string[]): string => {
      const file = join(dir, `${name}.yaml`);
      const lines = ['cluster:', `  name: ${NAME}`, `  endpoints: [${cluster.members[0].clientURL}]`, 'schedule: "*-*-* 00/6:00:00"',
        'local:', `  dir: ${join(dir, name)}`, '  keep: { last: 5 }', ...extra];
      writeFileSync(file, `${lines.join('\n')}\n`, { mode: 0o600 });
      return file;
    };
    const fresh = plan('fresh', []);
    const late = plan('late', []);
    const s3 = { endpoint: 'http://127.0.0.1:1', bucket: 'etcd-backups', prefix: 'prod/', region: 'us-east-1', credentialsFile: credentials,
      timeoutSeconds: 3, maxAttempts: 1 };
    const failing = plan('failing', ['remote:', `  s3: ${JSON.stringify(s3)}`, '  keep: { last: 14 }', `encrypt: { recipients: [${recipient}] }`]);
    for (const p of [fresh, late]) {
      const r = await cli(root, ['backup', 'run', '--config', p]);
      assert.equal(r.code, 0, r.text);
    }
    const failed = await cli(root, ['backup', 'run', '--config', failing]);
    assert.equal(failed.code, 1, failed.text);
    // The late plan's last success, 9 hours ago: older than one interval (6 h), younger than two.
    const statusFile = join(dir, 'late', `.etcd-backup-${NAME}.status.json`);
    const status = JSON.parse(readFileSync(statusFile, 'utf8'));
    status.destinations.local.lastSuccess.at = new Date(Date.now() - 9 * 3600_000).toISOString();
    writeFileSync(statusFile, JSON.stringify(status), { mode: 0o600 });

    setMachineSettings(userSettingsFile, { 'etcdBackup.backupPlans': [fresh, late, failing] });
    await setUserSettings({
      'etcdBackup.clusters': [{ name: NAME, endpoints: cluster.endpoints }],
      'etcdBackup.refreshIntervalSeconds': 0,
      'files.autoSave': 'afterDelay',
    });
    await openActivity('etcd Backup & Restore');
    await narrowSidebar(page, 260);
    const clusterRow = sidebar.locator('.monaco-list-row', { hasText: NAME }).first();
    await clusterRow.waitFor({ state: 'visible', timeout: 30_000 });
    await sidebar.locator('.monaco-list-row', { hasText: '1/1 healthy' }).first().waitFor({ state: 'visible', timeout: 30_000 });
    if ((await clusterRow.getAttribute('aria-expanded')) !== 'true') await clusterRow.click();
    const row = (state: string) => sidebar.locator('.monaco-list-row', { hasText: state }).first();
    for (const state of ['fresh · ', 'late · ', 'stale · ']) await row(state).waitFor({ state: 'visible', timeout: 30_000 });
    assert.match(await row('fresh · ').innerText(), /fresh · \d+ (s|min) ago · next .* · every 6 h · keep 5 here/);
    assert.match(await row('late · ').innerText(), /late · 9 h ago/);
    assert.match(await row('stale · ').innerText(), /stale · remote: none yet .* in s3:\/\/etcd-backups\/prod\/ · encrypted/);
    assert.equal(await row('fresh · ').locator('.codicon-history').count(), 1);
    assert.equal(await row('late · ').locator('.codicon-history').count(), 1);
    assert.equal(await row('stale · ').locator('.codicon-error').count(), 1, 'the failing plan has the red error icon');
    await page.mouse.move(900, 500);
    await page.waitForTimeout(300);
    const clip = { x: 0, y: 0, width: 760, height: 330 };
    shots.push(await screenshot('backups-plans', { clip }));
    // The narrow side bar cuts the line: the tooltip has all of it (the plan, each destination's age, the next run).
    await row('late · ').hover();
    const hover = page.locator('.monaco-hover, .workbench-hover').filter({ hasText: late }).first();
    await hover.waitFor({ state: 'visible', timeout: 15_000 });
    // (MarkdownString.appendText turns spaces into non-breaking ones: \s matches both.)
    assert.match(await hover.innerText(), /every\s6\sh\s·\skeep\s5\shere[\s\S]*local:\slast\sgood\sbackup\s9\sh\sago/);
    shots.push(await screenshot('backups-late-tooltip', { clip }));
    await page.mouse.move(900, 500);

    // The failing plan expanded: the failure's sentence first, then its local backup.
    await row('stale · ').click();
    const failure = sidebar.locator('.monaco-list-row', { hasText: 'remote, ' }).first();
    await failure.waitFor({ state: 'visible', timeout: 30_000 });
    const localBackup = sidebar.locator('.monaco-list-row', { hasText: `${NAME}-` }).filter({ hasText: 'local · ' }).first();
    await localBackup.waitFor({ state: 'visible', timeout: 30_000 });
    await localBackup.hover();
    await page.waitForTimeout(300);
    shots.push(await screenshot('backups-failing', { clip }));
    await localBackup.click({ button: 'right' });
    await page.locator('.context-view .monaco-menu').first().waitFor({ state: 'visible', timeout: 10_000 });
    const menu = (await page.locator('.context-view .action-label').allInnerTexts()).map((t) => t.trim()).filter(Boolean);
    for (const e of ['Show Snapshot Report', 'Verify Snapshot', 'Compare Snapshots…', 'Restore Snapshot…']) {
      assert.ok(menu.includes(e), `a backup's context menu lacks "${e}": ${menu.join(', ')}`);
    }
    await page.keyboard.press('Escape');
    keepScreenshots(ctx, shots);
  } catch (err) {
    await screenshot('backups-failed-here');
    throw err;
  } finally {
    await page.keyboard.press('Escape');
    setMachineSettings(userSettingsFile, {});
    await setUserSettings({ 'etcdBackup.clusters': [], 'files.autoSave': 'off' });
    await cluster.stop();
    rmSync(dir, { recursive: true, force: true });
  }
}
