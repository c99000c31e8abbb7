/**
 * One definition of "an etcd file" (src/core/etcdFileNames.ts): package.json's activation
 * events and menu `when` clauses must say the same as the code that picks files by name.
 */
import * as assert from 'assert';
import { readFileSync } from 'fs';
import { join } from 'path';
import { ETCD_ACTIVATION_FILES, ETCD_FILE_GLOB, ETCD_FILE_MENU_WHEN, ETCD_FILE_NAME, looksLikeEtcdFileName } from '../../src/core/etcdFileNames';

interface Manifest {
  activationEvents: string[];
  contributes: { menus: Record<string, { command: string; when?: string }[]> };
}

const manifest = (): Manifest => JSON.parse(readFileSync(join(__dirname, '..', '..', 'package.json'), 'utf8')) as Manifest;

/** What the definition and package.json disagree on, one sentence each (empty when they agree). */
export function etcdFileMismatches(pkg: Manifest): string[] {
  const out: string[] = [];
  const watched = pkg.activationEvents.filter((e) => e.startsWith('workspaceContains:')).map((e) => e.slice('workspaceContains:'.length));
  const wanted = [...ETCD_ACTIVATION_FILES];
  for (const f of wanted.filter((x) => !watched.includes(x))) out.push(`activationEvents lacks workspaceContains:${f}`);
  for (const f of watched.filter((x) => !wanted.includes(x as never))) out.push(`activationEvents has workspaceContains:${f}, which ETCD_ACTIVATION_FILES does not name`);
  const importMenus = Object.entries(pkg.contributes.menus).flatMap(([menu, items]) =>
    items.filter((i) => i.command === 'etcdBackup.importCluster' && i.when?.includes('resourceFilename')).map((i) => [menu, i.when] as const),
  );
  if (!importMenus.length) out.push('no menu offers etcdBackup.importCluster by resourceFilename');
  for (const [menu, when] of importMenus) {
    if (when !== ETCD_FILE_MENU_WHEN) out.push(`${menu}: "${when}" is not "${ETCD_FILE_MENU_WHEN}"`);
  }
  return out;
}

describe('the definition of an etcd file', () => {
  it('package.json activation events and import menus agree with src/core/etcdFileNames.ts', () => {
    assert.deepStrictEqual(etcdFileMismatches(manifest()), []);
  });

  it('the check fails when package.json drifts (a menu regexp, an activation file)', () => {
    const pkg = manifest();
    pkg.contributes.menus['explorer/context'] = pkg.contributes.menus['explorer/context'].map((i) =>
      i.command === 'etcdBackup.importCluster' ? { ...i, when: 'resourceFilename =~ /etcd\\.ya?ml$/i' } : i,
    );
    pkg.activationEvents = [...pkg.activationEvents.filter((e) => e !== 'workspaceContains:**/etcd.env'), 'workspaceContains:**/etcd.conf'];
    const problems = etcdFileMismatches(pkg);
    assert.strictEqual(problems.length, 3, problems.join('\n'));
    assert.ok(problems.some((p) => p.startsWith('explorer/context:')), problems.join('\n'));
  });

  it('the activation files and the workspace search only name files that look like etcd\'s', () => {
    const names = [...ETCD_ACTIVATION_FILES.map((g) => g.replace('**/', '')), .../\{(.*)\}/.exec(ETCD_FILE_GLOB)![1].split(',').map((n) => n.replace('*', 'x'))];
    for (const n of names) assert.ok(looksLikeEtcdFileName(n), n);
    assert.ok(ETCD_FILE_NAME.flags.includes('i'), 'menus compare file names without case');
  });
});
