// UI check (real workbench, Playwright): Restore Snapshot… to a point in time, clicked through as
// an operator does it after a bad delete, with files.autoSave on and a narrow side bar. A real
// one-member etcd, a plan with follow enabled, a full backup by the real CLI and the real follower
// (`etcd-backup backup follow`, its own process) recording a history of puts and a delete:
// - a right-click on the cluster, Restore Snapshot…, "A point in time…" of the plan;
// - the input box names the recorded range, and refuses a revision past it as it is typed;
// - the revision before the delete is built (progress notification), the modal names the
//   revision and the key count; "Show Changes from the Base" opens Compare Snapshots' report;
// - "Continue Restore" goes on to the restore's members step with the built file, which holds
//   exactly that revision (etcdctl snapshot status), in a 0600 file in a 0700 folder.
// Screenshots: test-results/vscode/pitr-*.png (media/screenshots/ with --update-screenshots).
import * as assert from 'node:assert/strict';
import { ChildProcess, execFileSync, spawn } from 'node:child_process';
import { existsSync, mkdtempSync, readdirSync, rmSync, statSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { cli, keepScreenshots, narrowSidebar, setMachineSettings, type UiContext } from './uiHelpers';
import { startCluster } from '../support/etcdRig';
import { waitFor } from '../support/waitFor';

export const title = 'Restore Snapshot… to a point in time: range named, a bad revision refused as typed, changes shown, restore goes on';

const NAME = 'ui-pitr';


/** The temp folders Restore's point-in-time step builds into (etcd-backup-pitr-*). */
function pitrDirs(): string[] {
  return readdirSync(tmpdir()).filter((n) => n.startsWith('etcd-backup-pitr-'));
}

export default async function (ctx: UiContext): Promise<void> {
  const { page, openActivity, setUserSettings, screenshot, root, userSettingsFile } = ctx;
  const cluster = await startCluster({ members: 1, name: 'uipitr' });
  const dir = mkdtempSync(join(tmpdir(), 'etcd-backup-ui-pitr-'));
  const sidebar = page.locator('.sidebar').first();
  const widget = page.locator('.quick-input-widget');
  const dialog = page.locator('.monaco-dialog-box');
  const shots: string[] = [];
  const before = new Set(pitrDirs());
  let follower: ChildProcess | undefined;
  let followerLog = '';
  const rev = async (args: string[]): Promise<number> => {
    const out = await cluster.etcdctlOk([...args, '-w', 'json']);
    return Number(/"revision":(\d+)/.exec(out)?.[1]);
  };
  try {
    for (let i = 0; i < 10; i++) await cluster.etcdctlOk(['put', `/registry/deployments/default/web${i}`, `spec ${i}`]);
    const plan = join(dir, 'plan.yaml');
    const lines = ['cluster:', `  name: ${NAME}`, `  endpoints: [${cluster.members[0].clientURL}]`, 'schedule: "*-*-* 00/6:00:00"',
      'local:', `  dir: ${join(dir, 'local')}`, '  keep: { last: 5 }', 'follow: { enabled: true, segmentSeconds: 1, segmentMiB: 1 }'];
    writeFileSync(plan, `${lines.join('\n')}\n`, { mode: 0o600 });
    const full = await cli(root, ['backup', 'run', '--config', plan]);
    assert.equal(full.code, 0, full.text);
    follower = spawn(process.execPath, [join(root, 'dist', 'cli.js'), 'backup', 'follow', '--config', plan], { stdio: ['ignore', 'ignore', 'pipe'] });
    follower.stderr?.on('data', (b: Buffer) => (followerLog += b.toString()));
    await waitFor(() => /Watching/.test(followerLog), 30_000, `the follower to watch:\n${followerLog}`);
    // The history: changes, then the "bad kubectl delete" of three deployments.
    for (let i = 0; i < 3; i++) await rev(['put', `/registry/deployments/default/web${i}`, `spec ${i} v2`]);
    const good = await rev(['put', '/registry/configmaps/default/settings', 'ok']);
    let last = 0;
    for (let i = 0; i < 3; i++) last = await rev(['del', `/registry/deployments/default/web${i}`]);
    const recorded = (): number => {
      const logDir = join(dir, 'local', 'changelog');
      const names = existsSync(logDir) ? readdirSync(logDir).filter((n) => /^changes-\d{16}-\d{16}\.log$/.test(n)) : [];
      return Math.max(0, ...names.map((n) => Number(n.slice(25, 41))));
    };
    await waitFor(() => recorded() >= last, 60_000, `the follower to store revision ${last}:\n${followerLog}`, 300);

    setMachineSettings(userSettingsFile, { 'etcdBackup.backupPlans': [plan] });
    await setUserSettings({
      'etcdBackup.clusters': [{ name: NAME, endpoints: cluster.endpoints }],
      'etcdBackup.refreshIntervalSeconds': 0,
      'files.autoSave': 'afterDelay',
    });
    await openActivity('etcd Backup & Restore');
    await narrowSidebar(page, 260);
    const clusterRow = sidebar.locator('.monaco-list-row', { hasText: NAME }).first();
    await clusterRow.waitFor({ state: 'visible', timeout: 30_000 });
    if ((await clusterRow.getAttribute('aria-expanded')) !== 'true') await clusterRow.click();
    // The plan's Backups node, then its follower row: where the change log is, the restore of a point starts.
    const backups = sidebar.locator('.monaco-list-row', { hasText: 'fresh · ' }).first();
    await backups.waitFor({ state: 'visible', timeout: 30_000 });
    if ((await backups.getAttribute('aria-expanded')) !== 'true') await backups.click();
    const followerRow = sidebar.locator('.monaco-list-row', { hasText: 'follower running' }).first();
    await followerRow.waitFor({ state: 'visible', timeout: 30_000 });
    shots.push(await screenshot('pitr-follower', { clip: { x: 0, y: 0, width: 760, height: 330 } }));
    // The row is redrawn as the follower's status file changes (every 2 s): a menu, or a click on it, can go with the
    // old row. Until the restore's first step shows: open the menu when it is not open, else click the entry.
    const menuItem = page.locator('.context-view .action-label', { hasText: 'Restore Snapshot…' }).first();
    const firstStep = widget.locator('.quick-input-title', { hasText: 'Restore what?' });
    await waitFor(
      async () => {
        if (await firstStep.isVisible()) return true;
        if (await menuItem.isVisible()) await menuItem.click({ timeout: 2000 }).catch(() => undefined);
        else await followerRow.click({ button: 'right', timeout: 2000 }).catch(() => undefined);
        return firstStep.waitFor({ state: 'visible', timeout: 2000 }).then(
          () => true,
          () => false,
        );
      },
      45_000,
      "Restore Snapshot… from the follower row's menu to show its first step",
      0,
    );

    // What to restore: a file, or a point of the plan's change log.
    await widget.locator('.quick-input-list .monaco-list-row', { hasText: 'A point in time…' }).first().click();

    // The input box names the range; a revision past it is refused as it is typed.
    await widget.locator('.quick-input-title', { hasText: 'Restore the cluster as it was at…' }).waitFor({ state: 'visible', timeout: 30_000 });
    const prompt = await widget.locator('.quick-input-message').first().innerText();
    assert.match(prompt, new RegExp(`Recorded: .*revisions? \\d+ to ${last}\\b`), prompt);
    await widget.locator('input.input').first().fill(String(last + 1000));
    await widget.locator('.quick-input-message', { hasText: 'outside the recorded range' }).waitFor({ state: 'visible', timeout: 10_000 });
    shots.push(await screenshot('pitr-refused', { clip: { x: 0, y: 0, width: 1000, height: 260 } }));
    await page.keyboard.press('Enter');
    await page.waitForTimeout(500);
    assert.ok(await widget.isVisible(), 'Enter on a refused revision must not accept it');
    await widget.locator('input.input').first().fill(String(good));
    await page.waitForTimeout(300);
    await page.keyboard.press('Enter');

    // Built: the modal names the revision; first the changes from the base, then go on.
    await dialog.waitFor({ state: 'visible', timeout: 120_000 });
    const text = await dialog.innerText();
    assert.match(text, new RegExp(`Restore "${NAME}" as it was at revision ${good}\\?`), text);
    assert.match(text, /\d+ keys at revision \d+.*\+ \d+ revisions replayed/s, text);
    shots.push(await screenshot('pitr-confirm'));
    await dialog.locator('.monaco-button', { hasText: 'Show Changes from the Base' }).click();
    await page.locator('.tab', { hasText: /Compare|changes|→|↔/i }).first().waitFor({ state: 'visible', timeout: 60_000 });
    await dialog.waitFor({ state: 'visible', timeout: 60_000 });
    assert.equal(await dialog.locator('.monaco-button', { hasText: 'Show Changes from the Base' }).count(), 0, 'shown once, then only Continue');
    await dialog.locator('.monaco-button', { hasText: 'Continue Restore' }).click();

    // The restore goes on with the built file: its members step.
    await widget.locator('.quick-input-title', { hasText: 'Members of the restored cluster' }).waitFor({ state: 'visible', timeout: 60_000 });
    shots.push(await screenshot('pitr-members'));
    const built = pitrDirs().filter((d) => !before.has(d));
    assert.equal(built.length, 1, `one point-in-time folder: ${built.join(', ')}`);
    const folder = join(tmpdir(), built[0]);
    const file = join(folder, readdirSync(folder).find((f) => f.endsWith('.db')) as string);
    assert.equal(statSync(folder).mode & 0o777, 0o700);
    assert.equal(statSync(file).mode & 0o777, 0o600);
    const status = JSON.parse(execFileSync('etcdctl', ['snapshot', 'status', file, '-w', 'json'], { env: { ...process.env, ETCDCTL_API: '3' } }).toString());
    assert.equal(status.revision, good, 'the built snapshot holds the chosen revision');
    await page.keyboard.press('Escape');
    keepScreenshots(ctx, shots);
  } catch (err) {
    await screenshot('pitr-failed-here');
    throw err;
  } finally {
    await page.keyboard.press('Escape');
    follower?.kill('SIGKILL');
    for (const d of pitrDirs().filter((n) => !before.has(n))) rmSync(join(tmpdir(), d), { recursive: true, force: true });
    setMachineSettings(userSettingsFile, {});
    await setUserSettings({ 'etcdBackup.clusters': [], 'files.autoSave': 'off' });
    await cluster.stop();
    rmSync(dir, { recursive: true, force: true });
  }
}
