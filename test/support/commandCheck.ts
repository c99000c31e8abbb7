/**
 * Compares the commands package.json declares with those the running extension registered.
 * Plain logic (no vscode import) so a unit test can prove it fails on a mismatch.
 */
export interface CommandMismatch {
  /** Declared in contributes.commands but not registered by the extension. */
  declaredNotRegistered: string[];
  /** Registered with the extension's prefix but not declared in contributes.commands. */
  registeredNotDeclared: string[];
}

/**
 * @param declared command ids from package.json `contributes.commands`
 * @param registered every command id VS Code knows (`vscode.commands.getCommands(true)`)
 * @param prefix the extension's prefix, e.g. "etcdBackup."
 * @param viewIds the extension's view ids: VS Code itself registers `<viewId>.focus`,
 *   `<viewId>.resetViewLocation`... for each view, so those are not the extension's.
 */
export function compareCommands(declared: readonly string[], registered: readonly string[], prefix: string, viewIds: readonly string[] = []): CommandMismatch {
  const registeredSet = new Set(registered);
  const declaredSet = new Set(declared);
  const byWorkbench = (id: string): boolean => viewIds.some((v) => id.startsWith(`${v}.`));
  return {
    declaredNotRegistered: declared.filter((id) => !registeredSet.has(id)).sort(),
    registeredNotDeclared: registered.filter((id) => id.startsWith(prefix) && !declaredSet.has(id) && !byWorkbench(id)).sort(),
  };
}

/** One sentence per mismatch, empty when they agree. */
export function describeMismatch(m: CommandMismatch): string[] {
  return [
    ...m.declaredNotRegistered.map((id) => `${id} is declared in package.json but the extension does not register it.`),
    ...m.registeredNotDeclared.map((id) => `${id} is registered but not declared in package.json contributes.commands.`),
  ];
}
