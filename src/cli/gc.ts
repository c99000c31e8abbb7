/**
 * V8's young-generation collector, when it can be had (`--expose-gc` set at run time and read
 * from a fresh context): called every few MiB of a snapshot stream it keeps the RSS flat.
 * Shared by `snapshot save` and the backup group.
 */
import { setFlagsFromString } from 'v8';
import { runInNewContext } from 'vm';

export function minorGc(): (() => void) | undefined {
  try {
    setFlagsFromString('--expose-gc');
    const gc = runInNewContext('gc') as ((o?: { type: string }) => void) | undefined;
    return typeof gc === 'function' ? () => gc({ type: 'minor' }) : undefined;
  } catch {
    return undefined;
  }
}
