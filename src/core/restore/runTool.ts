/**
 * Running the restore tool (etcdutl, or ETCDCTL_API=3 etcdctl 3.4) in its own process group, and
 * its failures as sentences.
 */
import { spawn } from 'child_process';
import { EtcdBackupError } from '../errors';
import { RestoreTool, SKIP_HASH_CHECK_CAVEAT } from '../tools';

/** Run the restore tool; resolves with its output, rejects with a sentence. */
export function runTool(tool: RestoreTool, args: string[], signal?: AbortSignal): Promise<string> {
  return new Promise((resolvePromise, reject) => {
    // Its own process group, so that cancelling stops anything it started too.
    const child = spawn(tool.path, args, { env: { ...process.env, ...tool.env }, stdio: ['ignore', 'pipe', 'pipe'], detached: true });
    let out = '';
    const keep = (b: Buffer): void => {
      out += b.toString('utf8');
      if (out.length > 64 * 1024) {
        out = out.slice(-32 * 1024);
      }
    };
    child.stdout.on('data', keep);
    child.stderr.on('data', keep);
    const onAbort = (): void => {
      try {
        process.kill(-(child.pid as number), 'SIGKILL');
      } catch {
        child.kill('SIGKILL');
      }
    };
    signal?.addEventListener('abort', onAbort, { once: true });
    child.on('error', (err) => {
      signal?.removeEventListener('abort', onAbort);
      reject(new EtcdBackupError('toolMissing', `Could not run ${tool.path}: ${err.message}.`, { cause: err }));
    });
    child.on('close', (code, sig) => {
      signal?.removeEventListener('abort', onAbort);
      if (signal?.aborted) {
        reject(new EtcdBackupError('cancelled', 'Cancelled.'));
      } else if (code === 0) {
        resolvePromise(out);
      } else {
        reject(toolFailure(tool, out, code, sig));
      }
    });
  });
}

/** The tool's failure as a sentence (its own last error line kept). */
export function toolFailure(
  tool: Pick<RestoreTool, 'kind' | 'path'>,
  output: string,
  code: number | null,
  sig: NodeJS.Signals | null = null,
): EtcdBackupError {
  const lines = output
    .split('\n')
    .map((l) => l.trim())
    .filter(Boolean);
  const errLine = [...lines].reverse().find((l) => /^Error:|error|fail|panic/i.test(l)) ?? lines[lines.length - 1] ?? '';
  const text = errLine.replace(/^Error:\s*/, '');
  const lower = output.toLowerCase();
  const name = `${tool.kind} snapshot restore`;
  if (lower.includes('missing hash')) {
    return new EtcdBackupError(
      'corrupt',
      `${name} refused the file: it has no SHA-256 trailer ("snapshot missing hash"). If it is a ` +
        `member/snap/db copied out of a data dir, restore with --skip-hash-check (${SKIP_HASH_CHECK_CAVEAT})`,
    );
  }
  if (lower.includes('expected sha256') || lower.includes('hash mismatch')) {
    return new EtcdBackupError(
      'corrupt',
      `${name} refused the file: its SHA-256 does not match the trailer (${text}). The file is damaged: take or copy the snapshot again.`,
    );
  }
  if (lower.includes('unknown flag') || lower.includes('unknown command')) {
    return new EtcdBackupError(
      'toolMissing',
      `${tool.path} does not understand this restore (${text}): etcdctl 3.6 has ` +
        `no "snapshot restore" and etcdctl 3.4 no --bump-revision; use etcdutl.`,
    );
  }
  if (lower.includes('already exists') || (lower.includes('data-dir') && lower.includes('exist'))) {
    return new EtcdBackupError('conflict', `${name} found its target already there (${text}).`);
  }
  const how = sig ? `was killed by ${sig}` : `exited with status ${code}`;
  return new EtcdBackupError('internal', `${name} ${how}${text ? `: ${text}` : ''}.`);
}
