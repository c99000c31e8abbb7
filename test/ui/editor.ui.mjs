// UI check (real workbench, Playwright): the fixture etcd.yaml opened in the editor shows the
// extension's CodeLenses above its first line and on --data-dir, and the palette offers the
// two edit commands while it is the active editor.
export const title = 'etcd.yaml in the editor shows its CodeLenses; the palette offers Move Data Dir and Set initial-cluster-state';

export default async function ({ page, assert, runCommand, screenshot }) {
  await runCommand('Go to File...');
  const input = page.locator('.quick-input-widget input');
  await input.fill('etcd.yaml');
  await page.locator('.quick-input-list .monaco-list-row', { hasText: 'etcd.yaml' }).first().waitFor({ state: 'visible', timeout: 20_000 });
  await page.keyboard.press('Enter');
  const editor = page.locator('.editor-instance .monaco-editor').first();
  await editor.waitFor({ state: 'visible', timeout: 20_000 });
  const lens = editor.locator('.codelens-decoration');
  await lens.filter({ hasText: 'Add as cluster' }).first().waitFor({ state: 'visible', timeout: 60_000 });
  await lens.filter({ hasText: 'Move data dir…' }).first().waitFor({ state: 'visible', timeout: 20_000 });
  const texts = (await lens.allInnerTexts()).join(' | ');
  for (const t of ['Add as cluster', 'Restore a snapshot for this member…', 'Set initial-cluster-state: existing', 'Set initial-cluster-state: new', 'Move data dir…']) {
    assert.ok(texts.includes(t), `CodeLens "${t}" not shown; shown: ${texts}`);
  }
  await screenshot('editor-codelens');

  // The edit commands are in the palette while an etcd file is the active editor (the list is
  // virtual: filter for each one); the lens-only Restore for This Member is not.
  await page.keyboard.press('F1');
  const palette = page.locator('.quick-input-widget input');
  await palette.waitFor({ state: 'visible', timeout: 15_000 });
  const rows = page.locator('.quick-input-list .monaco-list-row');
  for (const t of ['etcd: Move Data Dir…', 'etcd: Set initial-cluster-state…']) {
    await palette.fill(`>${t}`);
    await rows.filter({ hasText: t }).first().waitFor({ state: 'visible', timeout: 15_000 });
  }
  await palette.fill('>etcd: Restore a Snapshot for This Member');
  await page.waitForTimeout(500);
  const labels = (await rows.allInnerTexts()).join(' | ');
  assert.ok(!labels.includes('Restore a Snapshot for This Member'), `the lens-only command shows in the palette: ${labels}`);
  await page.keyboard.press('Escape');
  await runCommand('View: Close All Editors');
}
