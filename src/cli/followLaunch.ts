/**
 * `backup follow` needs V8 flags that only apply when given at start-up (FOLLOWER_NODE_FLAGS in
 * src/core/pitr/units.ts). The systemd unit `backup schedule` writes sets them in NODE_OPTIONS,
 * so the service is one process. Started any other way (a shell, a script, another supervisor)
 * without them, the CLI starts itself again with them and only waits for that follower: the
 * memory budget then holds for the follower whoever starts it, at the price of a small
 * waiting process. Why not only NODE_OPTIONS in the unit: a follower started by hand would
 * quietly run without its budget. Why not always the second process: under systemd it would be
 * a second Node runtime in the service's memory for nothing.
 */
import { spawn } from 'child_process';
import { constants } from 'os';
import { FOLLOWER_NODE_FLAGS, hasFollowerFlags } from '../core/pitr/units';

/** Set in the follower's own environment so it never starts itself again (whatever it reads in its flags). */
const CHILD_MARK = 'ETCD_BACKUP_FOLLOWER_FLAGS';

/**
 * When this process lacks the follower's flags: run `backup follow` again in a Node.js process
 * that has them, pass SIGINT, SIGTERM and SIGHUP on, and resolve with its exit status. Resolves
 * undefined when the flags are there already (the caller follows in this process).
 */
export function relaunchFollower(): Promise<number> | undefined {
  if (process.env[CHILD_MARK] === '1' || hasFollowerFlags(process.execArgv, process.env.NODE_OPTIONS)) return undefined;
  const child = spawn(process.execPath, [...FOLLOWER_NODE_FLAGS, ...process.execArgv, ...process.argv.slice(1)], {
    // The IPC channel only tells the follower when this process is gone (see watchLauncher).
    stdio: ['inherit', 'inherit', 'inherit', 'ipc'],
    env: { ...process.env, [CHILD_MARK]: '1' },
  });
  const signals: NodeJS.Signals[] = ['SIGINT', 'SIGTERM', 'SIGHUP'];
  // A terminal's Ctrl-C reaches both processes; the follower takes a repeated signal calmly.
  const pass = (sig: NodeJS.Signals): void => void child.kill(sig);
  for (const s of signals) process.on(s, pass);
  return new Promise((resolve, reject) => {
    child.once('error', reject);
    child.once('exit', (code, signal) => {
      for (const s of signals) process.removeListener(s, pass);
      resolve(code ?? 128 + (signal ? constants.signals[signal] : 1));
    });
  });
}

/**
 * In a follower started by {@link relaunchFollower}: call `stop` when the launcher is gone (killed
 * with SIGKILL, which it cannot pass on), so that killing the process one started stops the
 * follower (cleanly: the open segment is stored) instead of leaving it running unseen.
 */
export function watchLauncher(stop: () => void): void {
  if (process.env[CHILD_MARK] !== '1' || !process.channel) return;
  process.channel.unref();
  process.once('disconnect', stop);
}
