import * as vscode from 'vscode';
import { checkEnvironment, formatEnvironment } from '../core/environment';
import type { EnvironmentReport } from '../core/environment';
import type { Log } from '../log';
import type { Settings } from '../settings';
import { showWithLogs } from './common';
import { registerCommand } from './run';

/**
 * "etcd: Check Environment": loads etcd3 (proving its protos ship with the extension), finds
 * etcdctl/etcdutl, writes the report to the log, and returns it (tests assert on it).
 */
export function registerEnvironmentCommand(context: vscode.ExtensionContext, deps: { log: Log; settings: Settings }): void {
  const { log, settings } = deps;
  registerCommand(context, log, 'etcdBackup.checkEnvironment', async (): Promise<EnvironmentReport> => {
    const { etcdctl, etcdutl } = settings.toolPaths();
    const report = await checkEnvironment({ etcdctl, etcdutl });
    log.info('Environment check:');
    for (const line of formatEnvironment(report)) {
      log.info(`  ${line}`);
    }
    const tools = report.tools.filter((t) => t.name !== 'etcd');
    const found = tools.filter((t) => t.path).map((t) => t.name);
    const summary = report.etcd3.loaded
      ? `etcd3 loaded its protos. ` +
        `${
          found.length
            ? `Found ${found.join(' and ')}.`
            : 'Neither etcdctl nor etcdutl is on PATH: install etcd-client (etcdctl) or etcdutl, or set their paths in the settings.'
        }`
      : (report.etcd3.problem ?? 'etcd3 did not load. Reinstall the extension.');
    showWithLogs(log, summary);
    return report;
  });
}
