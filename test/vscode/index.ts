/**
 * The test entry the VS Code extension host calls (the contract of @vscode/test-electron:
 * `run(): Promise<void>`). Runs mocha over the bundled suites next to this file, writes the
 * results as JSON for the driver (scripts/test-vscode.mjs), and rejects when a test failed.
 *
 * Environment (set by the driver on the code-server process; the extension host inherits it):
 * - ETCD_BACKUP_VSCODE_RESULTS: where to write the results JSON (default: results.json here);
 * - ETCD_BACKUP_VSCODE_SUITES: the folder of suites to run, relative to this file
 *   (default "suite"; the --vsix run uses "vsix");
 * - ETCD_BACKUP_VSCODE_GREP: only run tests whose full title matches this regular expression.
 */
import * as fs from 'fs';
import * as path from 'path';
// mocha is not bundled: it is required from the repository's node_modules at run time.
import Mocha from 'mocha';

export interface TestResult {
  title: string;
  fullTitle: string;
  titlePath: string[];
  state: 'passed' | 'failed';
  durationMs: number;
  error?: string;
}

export interface ResultsFile {
  suites: string;
  files: string[];
  passed: number;
  failed: number;
  durationMs: number;
  tests: TestResult[];
  /** A failure outside any test: a suite file that did not load, a crashed runner. */
  error?: string;
}

function suiteFiles(dir: string): string[] {
  if (!fs.existsSync(dir)) {
    return [];
  }
  return fs
    .readdirSync(dir, { withFileTypes: true })
    .flatMap((e) => (e.isDirectory() ? suiteFiles(path.join(dir, e.name)) : e.name.endsWith('.test.js') ? [path.join(dir, e.name)] : []))
    .sort();
}

function writeResults(file: string, results: ResultsFile): void {
  fs.mkdirSync(path.dirname(file), { recursive: true });
  const part = `${file}.part`;
  fs.writeFileSync(part, `${JSON.stringify(results, null, 2)}\n`);
  fs.renameSync(part, file);
}

function errorText(err: unknown): string {
  if (err instanceof Error) {
    return err.stack ?? err.message;
  }
  return String(err);
}

export async function run(): Promise<void> {
  const resultsFile = process.env.ETCD_BACKUP_VSCODE_RESULTS || path.join(__dirname, 'results.json');
  const suites = process.env.ETCD_BACKUP_VSCODE_SUITES || 'suite';
  const grep = process.env.ETCD_BACKUP_VSCODE_GREP;
  const started = Date.now();
  const results: ResultsFile = { suites, files: [], passed: 0, failed: 0, durationMs: 0, tests: [] };

  const mocha = new Mocha({ ui: 'bdd', timeout: 60_000, color: false, reporter: 'spec' });
  if (grep) {
    mocha.grep(new RegExp(grep));
  }
  try {
    results.files = suiteFiles(path.join(__dirname, suites));
    if (results.files.length === 0) {
      throw new Error(`No *.test.js suites under ${path.join(__dirname, suites)}. Build them with scripts/test-vscode.mjs.`);
    }
    for (const f of results.files) {
      mocha.addFile(f);
    }
    await new Promise<void>((resolve) => {
      // mocha.run() requires the suite files (CommonJS bundles); a load error throws here.
      const runner = mocha.run(() => resolve());
      const record = (test: Mocha.Test, state: TestResult['state'], err?: unknown): void => {
        results.tests.push({
          title: test.title,
          fullTitle: test.fullTitle(),
          titlePath: test.titlePath(),
          state,
          durationMs: test.duration ?? 0,
          error: err === undefined ? undefined : errorText(err),
        });
      };
      runner.on('pass', (test) => record(test, 'passed'));
      runner.on('fail', (test, err) => {
        // A failing hook is reported as a failure of the hook "test".
        record(test as Mocha.Test, 'failed', err);
      });
    });
  } catch (err) {
    results.error = errorText(err);
  }
  results.passed = results.tests.filter((t) => t.state === 'passed').length;
  results.failed = results.tests.filter((t) => t.state === 'failed').length + (results.error ? 1 : 0);
  results.durationMs = Date.now() - started;
  writeResults(resultsFile, results);
  if (results.failed > 0) {
    throw new Error(`${results.failed} test(s) failed${results.error ? `: ${results.error}` : ''}`);
  }
}
