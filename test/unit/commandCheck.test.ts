import * as assert from 'assert';
import { compareCommands, describeMismatch } from '../support/commandCheck';

describe('command check (declared vs registered)', () => {
  const views = ['etcdBackup.clusters'];

  it('passes when every declared command is registered and the reverse', () => {
    const m = compareCommands(['etcdBackup.a', 'etcdBackup.b'], ['etcdBackup.b', 'etcdBackup.a', 'workbench.action.x'], 'etcdBackup.', views);
    assert.deepStrictEqual(m, { declaredNotRegistered: [], registeredNotDeclared: [] });
    assert.deepStrictEqual(describeMismatch(m), []);
  });

  it('fails on a command declared but not registered', () => {
    const m = compareCommands(['etcdBackup.a', 'etcdBackup.missing'], ['etcdBackup.a'], 'etcdBackup.', views);
    assert.deepStrictEqual(m.declaredNotRegistered, ['etcdBackup.missing']);
    assert.deepStrictEqual(describeMismatch(m), ['etcdBackup.missing is declared in package.json but the extension does not register it.']);
  });

  it('fails on a command registered but not declared', () => {
    const m = compareCommands(['etcdBackup.a'], ['etcdBackup.a', 'etcdBackup.secret'], 'etcdBackup.', views);
    assert.deepStrictEqual(m.registeredNotDeclared, ['etcdBackup.secret']);
    assert.strictEqual(describeMismatch(m).length, 1);
  });

  it("ignores the commands VS Code registers for the extension's views, and other prefixes", () => {
    const m = compareCommands([], ['etcdBackup.clusters.focus', 'etcdBackup.clusters.resetViewLocation', 'other.x'], 'etcdBackup.', views);
    assert.deepStrictEqual(m, { declaredNotRegistered: [], registeredNotDeclared: [] });
    // ...but not a command that merely shares the view id's start without the dot.
    assert.deepStrictEqual(compareCommands([], ['etcdBackup.clustersX'], 'etcdBackup.', views).registeredNotDeclared, ['etcdBackup.clustersX']);
  });
});
