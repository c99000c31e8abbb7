/**
 * V8's young-generation collector, when it can be had (`--expose-gc` set at run time and read
 * from a fresh context): called every few MiB of a snapshot stream it keeps the RSS flat.
 * Shared by `snapshot save` and the backup group.
 */
import { setFlagsFromString } from 'v8';
import { runInNewContext } from 'vm';

export function minorGc(): (() => void) | undefined {
  return collector('minor');
}

/**
 * V8's full collector, for the follower: with its small young generation, what a stream of
 * events leaves behind is promoted, and V8 lets that garbage pile up in the old generation
 * (16 MiB to 29 MiB over 2 minutes at 1,000 writes/s while 9 MiB lived); a full collection of
 * a heap that small takes about 10 ms.
 */
export function majorGc(): (() => void) | undefined {
  return collector('major');
}

function collector(type: 'minor' | 'major'): (() => void) | undefined {
  try {
    setFlagsFromString('--expose-gc');
    const gc = runInNewContext('gc') as ((o?: { type: string }) => void) | undefined;
    if (typeof gc !== 'function') return undefined;
    // gc({ type: 'major' }) runs only a scavenge in Node 20 (--trace-gc); gc() with no argument is the full collection.
    return type === 'minor' ? () => gc({ type }) : () => gc();
  } catch {
    return undefined;
  }
}

/**
 * For a batch command that streams a GiB (`backup run`): V8 without incremental marking. With
 * it, the small old generation of a process whose buffers come and go by the GiB started a
 * concurrent full marking about 70 times per GiB of a `backup run` (three helper threads
 * marking a 17 MiB heap each time: a fifth of the process's CPU); without it, about 6 full
 * collections run, each a pause of a few milliseconds that nobody waits for.
 */
export function batchGc(): void {
  try {
    setFlagsFromString('--no-incremental-marking');
  } catch {
    // a V8 without the flag collects as before
  }
}
