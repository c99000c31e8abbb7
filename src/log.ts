import * as vscode from 'vscode';

/** The extension's one log, an output channel in log mode. Never log credentials. */
export type Log = vscode.LogOutputChannel;

export function createLog(): Log {
  return vscode.window.createOutputChannel('etcd Backup & Restore', { log: true });
}
