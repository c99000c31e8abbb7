// UI check: a cluster added to the user settings appears in the Clusters view, by name, in
// place of the welcome content; removing it brings the welcome content back.
export const title = 'a cluster in the user settings shows in the Clusters view';

export default async function ({ page, openActivity, setUserSettings }) {
  const sidebar = page.locator('.sidebar').first();
  // setUserSettings reloads the workbench: open the view after it.
  await setUserSettings({ 'etcdBackup.clusters': [{ name: 'ui-check-cluster', endpoints: ['http://127.0.0.1:1'] }] });
  try {
    await openActivity('etcd Backup & Restore');
    await sidebar.locator('.monaco-list-row', { hasText: 'ui-check-cluster' }).first().waitFor({ state: 'visible', timeout: 20_000 });
    await sidebar.locator('.welcome-view-content').waitFor({ state: 'hidden', timeout: 10_000 });
  } finally {
    await setUserSettings({ 'etcdBackup.clusters': [] });
  }
  await openActivity('etcd Backup & Restore');
  await sidebar.locator('.welcome-view-content', { hasText: 'No etcd cluster is configured yet.' }).waitFor({ state: 'visible', timeout: 20_000 });
}
