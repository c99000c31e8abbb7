import * as vscode from 'vscode';
import { explain } from '../core/errors';
import { errorText } from '../hints';
import type { Log } from '../log';

/** The last failure of each command (its one sentence), for tests and diagnostics. */
export const lastCommandErrors = new Map<string, string>();

/**
 * The one wrapper around every command handler: the whole error goes to the log, the user
 * sees one sentence they can act on, with a "Show Logs" button.
 */
export function registerCommand(context: vscode.ExtensionContext, log: Log, id: string, handler: (...args: any[]) => unknown): void {
  context.subscriptions.push(
    vscode.commands.registerCommand(id, async (...args: unknown[]) => {
      try {
        return await handler(...args);
      } catch (err) {
        const e = explain(err);
        if (e.kind === 'cancelled') {
          log.info(`${id}: cancelled`);
          return undefined;
        }
        log.error(`${id} failed:`, err instanceof Error ? (err.stack ?? err.message) : String(err));
        const text = errorText(e);
        lastCommandErrors.set(id, text);
        void vscode.window.showErrorMessage(text, 'Show Logs').then((choice) => {
          if (choice === 'Show Logs') {
            log.show(true);
          }
        });
        return undefined;
      }
    }),
  );
}
