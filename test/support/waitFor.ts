/**
 * The one polling helper of every test tier (unit, integration, the extension-host suites, the
 * UI checks and the VS Code tier's driver): call `probe` until it returns a truthy value, and
 * fail after `timeoutMs` with what was awaited and the probe's last error. Plain Node.
 */
export async function waitFor<T>(probe: () => T | Promise<T>, timeoutMs = 10_000, what = 'condition', intervalMs = 100): Promise<NonNullable<T>> {
  const deadline = Date.now() + timeoutMs;
  let last: unknown;
  for (;;) {
    try {
      const v = await probe();
      if (v) return v as NonNullable<T>;
    } catch (err) {
      last = err;
    }
    if (Date.now() > deadline) {
      throw new Error(`Timed out after ${timeoutMs} ms waiting for ${what}${last ? `: ${last instanceof Error ? last.message : String(last)}` : ''}`);
    }
    await new Promise((r) => setTimeout(r, intervalMs));
  }
}
