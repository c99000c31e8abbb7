/** The CLI's main() in a child process, for tests of its exit statuses and output. */
import { execFile } from 'child_process';
import { resolve } from 'path';

const REPO = resolve(__dirname, '../..');

export interface CliRun {
  argv: string[];
  code: number | null;
  stdout: string;
  stderr: string;
  /** No answer within the per-run limit (5 s): the command hangs. */
  hung: boolean;
  ms: number;
}

/**
 * Run main() of src/cli.ts for each argv, one after the other, in ONE child process (under
 * tsx: main() loads its groups with import(), which mocha's tsx/cjs hook cannot resolve in
 * process; one child instead of one per run, as tsx's start-up is seconds on a loaded machine).
 * Each run gets 5 s: a command that hangs is reported `hung`, and the child still ends.
 */
export function runCli(runs: string[][]): Promise<CliRun[]> {
  const driver = `
    const { main } = require('./src/cli.ts');
    (async () => {
      const out = [];
      for (const argv of JSON.parse(process.argv[1])) {
        let so = '', se = '', code, hung = false;
        const o = process.stdout.write.bind(process.stdout), e = process.stderr.write.bind(process.stderr);
        process.stdout.write = (s) => { so += String(s); return true; };
        process.stderr.write = (s) => { se += String(s); return true; };
        const t0 = Date.now();
        try {
          code = await Promise.race([main(argv), new Promise((r) => setTimeout(() => { hung = true; r(null); }, 5000))]);
        } catch (err) { code = -1; se += String((err && err.stack) || err); }
        process.stdout.write = o; process.stderr.write = e;
        out.push({ argv, code, stdout: so, stderr: se, hung, ms: Date.now() - t0 });
      }
      process.stdout.write(JSON.stringify(out));
      process.exit(0);
    })();`;
  return new Promise((done, fail) => {
    const opts = { cwd: REPO, timeout: 240_000, maxBuffer: 64 << 20 };
    execFile(process.execPath, ['--import', 'tsx', '-e', driver, JSON.stringify(runs)], opts, (err, stdout, stderr) => {
      if (err) fail(new Error(`the CLI driver failed: ${err.message}\n${stderr}`));
      else done(JSON.parse(stdout) as CliRun[]);
    });
  });
}
