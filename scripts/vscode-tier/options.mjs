// The VS Code tier's command line (see scripts/test-vscode.mjs for what each option does).
import { resolve } from 'node:path';

const USAGE = 'Options: --vsix --no-ui --no-build --grep <re> --suites <dir> --timeout <s> --env K=V --setting key=<json> --update-screenshots';

/** Parse argv (and ETCD_BACKUP_VSCODE_SETTINGS); exits with status 2 on a bad option. */
export function parseOptions(argv, env = process.env) {
  const opt = { vsix: false, ui: true, build: true, updateScreenshots: false, grep: undefined, suites: undefined, timeout: 900, env: {}, settings: {} };
  const fail = (msg) => {
    console.error(msg);
    process.exit(2);
  };
  for (let i = 0; i < argv.length; i++) {
    const a = argv[i];
    const next = () => (i + 1 < argv.length ? argv[++i] : fail(`${a} needs a value`));
    if (a === '--vsix') opt.vsix = true;
    else if (a === '--no-ui') opt.ui = false;
    else if (a === '--no-build') opt.build = false;
    else if (a === '--update-screenshots') opt.updateScreenshots = true;
    else if (a === '--grep') opt.grep = next();
    else if (a === '--suites') opt.suites = resolve(next());
    else if (a === '--timeout') opt.timeout = Number(next());
    else if (a === '--env') {
      const [k, ...v] = next().split('=');
      opt.env[k] = v.join('=');
    } else if (a === '--setting') {
      const [k, ...v] = next().split('=');
      try {
        opt.settings[k] = JSON.parse(v.join('='));
      } catch {
        opt.settings[k] = v.join('=');
      }
    } else fail(`Unknown option ${a}. ${USAGE}`);
  }
  if (env.ETCD_BACKUP_VSCODE_SETTINGS) Object.assign(opt.settings, JSON.parse(env.ETCD_BACKUP_VSCODE_SETTINGS));
  return opt;
}
