/**
 * etcd started through a shell (`sh -c 'source /etc/etcd/etcd.conf; exec etcd'` in a Pod,
 * `bash -c "… /usr/bin/etcd --name=\"${ETCD_NAME}\""` in a unit): enough of the script is read
 * to know that it runs etcd, which files it sources and which `ETCD_*` variables it passes on.
 * The script itself is never edited.
 */

function basename(p: string): string {
  return p.split('/').pop() ?? p;
}

/** Does this word start a shell (`sh`, `/bin/bash`, `/usr/bin/env bash` is handled by the caller)? */
export function isShell(word: string | undefined): boolean {
  return word !== undefined && /^(sh|bash|ash|dash|zsh|ksh)$/.test(basename(word.trim()));
}

/** Does this word start etcd (`etcd`, `/usr/local/bin/etcd`)? */
export function runsEtcd(word: string | undefined): boolean {
  return word !== undefined && basename(word.trim()) === 'etcd';
}

/** What a shell script does with etcd. */
export interface ShellScriptInfo {
  /** A simple command of the script starts etcd. */
  runsEtcd: boolean;
  /** Files it reads with `source FILE` or `. FILE`. */
  sourced: string[];
  /** `ETCD_*` variables it expands (`${ETCD_DATA_DIR}`, `$ETCD_NAME`). */
  variables: string[];
  /** The words after etcd on the command that starts it (quotes removed roughly), for messages. */
  etcdWords: string[];
}

/** Words of one simple command, with quotes taken off (roughly: enough to find the command name). */
function roughWords(cmd: string): string[] {
  const out: string[] = [];
  const re = /"((?:[^"\\]|\\.)*)"|'([^']*)'|(\S+)/g;
  let m: RegExpExecArray | null;
  while ((m = re.exec(cmd))) out.push(m[1] ?? m[2] ?? m[3]);
  return out;
}

/**
 * Read a shell script: split it into simple commands at `;`, `&&`, `||`, `|`, line breaks and
 * `then`/`do`/`else`, skip leading assignments and `exec`/`nohup`/`env`, and look at the
 * command name. Linear in the script's length.
 */
export function readShellScript(script: string): ShellScriptInfo {
  const info: ShellScriptInfo = { runsEtcd: false, sourced: [], variables: [], etcdWords: [] };
  const joined = script.replace(/\\\r?\n/g, ' ');
  for (const m of joined.matchAll(/\$\{?(ETCD_[A-Z0-9_]+)/g)) if (!info.variables.includes(m[1])) info.variables.push(m[1]);
  for (const raw of joined.split(/;|&&|\|\||\||\r?\n|\(|\)|`/)) {
    const cmd = raw.replace(/#.*$/, '').trim();
    if (!cmd) continue;
    let words = roughWords(cmd);
    while (words.length && /^(then|do|else|elif|if|while|until|!|\{)$/.test(words[0])) words = words.slice(1);
    while (words.length && /^[A-Za-z_][A-Za-z0-9_]*=/.test(words[0])) words = words.slice(1);
    // `exec`, `nohup`, `env`, and the priority wrappers with their options (`nice -n -19 ionice -c2 -n0 etcd`)
    while (words.length && /^(exec|nohup|env|command|time|nice|ionice|chrt|taskset|setpriv|su-exec|gosu|tini|dumb-init)$/.test(words[0])) {
      words = words.slice(1);
      while (words.length && /^(-|\d+$)/.test(words[0])) words = words.slice(1);
    }
    if (!words.length) continue;
    if ((words[0] === 'source' || words[0] === '.') && words[1]) info.sourced.push(words[1]);
    if (runsEtcd(words[0])) {
      info.runsEtcd = true;
      if (!info.etcdWords.length) info.etcdWords = words.slice(1);
    }
  }
  return info;
}

/** The script of a `sh -c SCRIPT` command line (`[sh, -c, script]`, `[/bin/bash, -ec, script]`), or undefined. */
export function shellScriptOf(words: readonly string[]): string | undefined {
  if (!isShell(words[0])) return undefined;
  for (let i = 1; i < words.length; i++) {
    const w = words[i];
    if (/^-[a-z]*c[a-z]*$/.test(w)) return words[i + 1];
    if (!w.startsWith('-')) return undefined;
  }
  return undefined;
}
