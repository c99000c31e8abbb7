/**
 * What would go wrong when etcd starts from this file, each with a sentence saying so and, where
 * one exists, a fix as minimal text edits.
 */
import { parseInitialCluster } from '../restore/plan';
import { ETCD_MINORS, ETCD_RELEASES, EtcdMinor, SOCKET_OPTION_KEYS } from './etcdVersions';
import { closestFlag, editDistance, envNameOf, EXTRA_ENV_VARS, flagReleases, releaseList, WRAPPER_ENV_VARS } from './flags';
import { removeEntryEdits, renameKeyEdit, replaceValueEdit, setDataDir, setSetting } from './edits';
import { lastSetting, mountFor } from './settings';
import { DiagnosticFix, EtcdDiagnostic, EtcdSetting, ParsedEtcdFile, TextEdit } from './types';

export interface DiagnoseOptions {
  /** The unit that reads this env file, or the env files a unit reads (for conflicts between them). */
  related?: readonly ParsedEtcdFile[];
  /**
   * Why the member this file starts is known to join a running cluster ({@link joiningReason}): then
   * initial-cluster-state "new" (or left out: etcd's default) is an error, not a hint.
   */
  joining?: string;
}

/** What a running cluster's member list says, as far as {@link joiningReason} needs it. */
export interface KnownCluster {
  name: string;
  members: readonly { name: string; peerURLs: readonly string[]; started: boolean }[];
}

/** The peer URLs this file's member advertises (initial-advertise-peer-urls, else its own initial-cluster entry). */
function ownPeerUrls(parsed: ParsedEtcdFile): string[] {
  const adv = lastSetting(parsed, 'initial-advertise-peer-urls');
  if (adv?.value) return adv.value.split(',').map(normUrl).filter(Boolean);
  const name = lastSetting(parsed, 'name')?.value;
  const ic = lastSetting(parsed, 'initial-cluster');
  const mine = name && ic ? parseInitialCluster(ic.value).members.find((m) => m.name === name) : undefined;
  return (mine?.peerURLs ?? []).map(normUrl);
}

/**
 * Is the member this file starts joining a running cluster? Known when a cluster's member list has
 * a member with this file's peer URL that was added (member add, or a replacement) and has not
 * started yet. Returns the sentence that says so, or undefined when nothing says it joins.
 */
export function joiningReason(parsed: ParsedEtcdFile, clusters: readonly KnownCluster[]): string | undefined {
  const urls = new Set(ownPeerUrls(parsed));
  if (!urls.size) return undefined;
  for (const c of clusters) {
    const m = c.members.find((x) => !x.started && x.peerURLs.some((u) => urls.has(normUrl(u))));
    if (m) {
      return (
        `Cluster "${c.name}" lists ${m.peerURLs.join(',')} as a member that was added and has not started yet: ` +
        `this member joins a running cluster`
      );
    }
  }
  return undefined;
}

/** Keys under client-transport-security / peer-transport-security. */
const TRANSPORT_KEYS = ETCD_RELEASES['3.6'].transportKeys;

function closestOf(name: string, candidates: readonly string[]): string | undefined {
  const best = candidates.map((c) => ({ c, d: editDistance(name, c) })).sort((a, b) => a.d - b.d)[0];
  return best && best.d <= Math.min(4, Math.max(1, Math.floor(name.length / 3))) ? best.c : undefined;
}

/** Flags that name files etcd opens at start. */
const FILE_FLAGS = [
  'cert-file',
  'key-file',
  'trusted-ca-file',
  'peer-cert-file',
  'peer-key-file',
  'peer-trusted-ca-file',
  'client-crl-file',
  'peer-crl-file',
];

function fixOf(title: string, edits: (TextEdit | undefined)[] | undefined): DiagnosticFix | undefined {
  const list = (edits ?? []).filter((e): e is TextEdit => Boolean(e));
  return list.length ? { title, edits: list } : undefined;
}

function setFix(parsed: ParsedEtcdFile, s: EtcdSetting, value: string, title: string): DiagnosticFix | undefined {
  const r = replaceValueEdit(parsed, s, value);
  return r.edit ? { title, edits: [r.edit] } : undefined;
}

function normUrl(u: string): string {
  return u.trim().replace(/\/+$/, '').toLowerCase();
}

/**
 * Diagnose an etcd file. Pass the unit of an env file (or the env files of a unit) as `related`
 * to find variables the command line also passes, which etcd refuses.
 */
export function diagnoseEtcdFile(parsed: ParsedEtcdFile, opts: DiagnoseOptions = {}): EtcdDiagnostic[] {
  const out: EtcdDiagnostic[] = [];
  for (const p of parsed.problems) {
    out.push({ range: p.range, severity: p.severity, code: p.code, message: p.message });
  }
  if (parsed.problems.some((p) => p.fatal)) return out;

  if (parsed.kind === 'manifest') manifestChecks(parsed, out);
  memberChecks(parsed, out, opts.joining);
  duplicateChecks(parsed, out);
  unknownChecks(parsed, out);
  conflictChecks(parsed, opts.related ?? [], out);
  configFileChecks(parsed, out);
  return out.sort((a, b) => a.range.start - b.range.start);
}

function manifestChecks(parsed: ParsedEtcdFile, out: EtcdDiagnostic[]): void {
  for (const m of parsed.volumeMounts) {
    if (m.name && !parsed.volumes.some((v) => v.name === m.name)) {
      out.push({
        range: m.nameRange ?? m.range,
        severity: 'error',
        code: 'volume-not-defined',
        message:
          `The mount at ${m.mountPath} names the volume "${m.name}", which the Pod does not define: the kubelet refuses to ` +
          `start the Pod.`,
      });
    }
  }
  const dd = lastSetting(parsed, 'data-dir');
  const dataMount = parsed.volumeMounts.find((m) => m.name === 'etcd-data');
  if (dd) {
    const m = mountFor(parsed, dd.value);
    if (!m) {
      out.push({
        range: dd.valueRange,
        severity: 'error',
        code: 'data-dir-not-mounted',
        message:
          `--data-dir ${dd.value} is not inside any volume mount: etcd keeps its data in the container's own file system, ` +
          `which is lost whenever the Pod is recreated; the member then starts empty and cannot rejoin its cluster.`,
        fix: dataMount?.mountPath
          ? setFix(parsed, dd, dataMount.mountPath, `Set --data-dir to ${dataMount.mountPath} (where the ` + `etcd-data volume is mounted)`)
          : undefined,
      });
    } else {
      if (dataMount && m.mount !== dataMount && dataMount.mountPath) {
        out.push({
          range: dd.valueRange,
          severity: 'warning',
          code: 'data-dir-mount-mismatch',
          message:
            `--data-dir ${dd.value} is on the "${m.mount.name}" volume, not on etcd-data (mounted at ${dataMount.mountPath}): ` +
            `etcd writes its data where backups and restores of the etcd-data volume do not look.`,
          fix: setFix(parsed, dd, dataMount.mountPath, `Set --data-dir to ${dataMount.mountPath}`),
        });
      }
      const v = m.volume;
      if (v && v.hostPath === undefined) {
        out.push({
          range: dd.valueRange,
          severity: 'warning',
          code: 'data-dir-not-host-path',
          message:
            `--data-dir ${dd.value} is on the "${v.name}" volume, which is not a hostPath ` +
            `volume${v.sourceKind ? ` (${v.sourceKind})` : ''}: ` +
            `${
              v.sourceKind === 'emptyDir'
                ? 'its data is deleted with the Pod, and the member comes back empty'
                : "a static pod's data belongs in a directory on the node"
            }.`,
        });
      }
      if (v?.hostPath !== undefined && m.mount === dataMount && !m.mount.subPath) {
        const host = v.hostPath.replace(/(.)\/+$/, '$1');
        const inside = dd.value.replace(/(.)\/+$/, '$1');
        const mp = m.mount.mountPath.replace(/(.)\/+$/, '$1');
        if (inside === mp && host !== inside) {
          const r = setDataDir(parsed, host);
          out.push({
            range: v.hostPathRange ?? v.range,
            severity: 'info',
            code: 'data-dir-host-path-differs',
            message:
              `The etcd-data volume's hostPath (${host}) differs from --data-dir and its mount (${inside}): etcd sees the ` +
              `node's ${host} as ${inside}. It starts, but tools on the node that read --data-dir (backups, restores, etcdutl) look ` +
              `in ${inside}.`,
            fix: r.ok ? fixOf(`Use ${host} for --data-dir, the mount and the hostPath`, r.edits) : undefined,
          });
        }
      }
    }
  }
  for (const name of FILE_FLAGS) {
    const s = lastSetting(parsed, name);
    if (!s || !s.value || !s.value.startsWith('/')) continue;
    if (!mountFor(parsed, s.value)) {
      out.push({
        range: s.valueRange,
        severity: 'error',
        code: 'file-not-mounted',
        message: `${s.key} ${s.value} is not inside any volume mount: etcd cannot open it inside the container and exits at start.`,
      });
    }
  }
}

/** A member known to join a running cluster must start with "existing"; "new" (or etcd's default) fails or splits the cluster. */
function joiningCheck(parsed: ParsedEtcdFile, joining: string, out: EtcdDiagnostic[]): void {
  const state = lastSetting(parsed, 'initial-cluster-state');
  if (state && state.value !== 'new') return;
  const anchor = state ?? lastSetting(parsed, 'initial-cluster') ?? lastSetting(parsed, 'name');
  const r = setSetting(parsed, 'initial-cluster-state', 'existing');
  const said = state ? `${state.key} is "new"` : `initial-cluster-state is not set (etcd's default is "new")`;
  out.push({
    range: anchor?.valueRange ?? { start: 0, end: 0 },
    severity: 'error',
    code: 'initial-cluster-state-new',
    message:
      `${joining}, but ${said}: etcd then tries to form a new cluster and exits with "member count is unequal" or ` +
      `"cluster ID mismatch" (or, when the initial cluster names only this member, starts a separate cluster). Use "existing".`,
    fix: r.ok ? fixOf('Set initial-cluster-state to existing', r.edits) : undefined,
  });
}

function memberChecks(parsed: ParsedEtcdFile, out: EtcdDiagnostic[], joining?: string): void {
  const ic = lastSetting(parsed, 'initial-cluster');
  const name = lastSetting(parsed, 'name');
  const adv = lastSetting(parsed, 'initial-advertise-peer-urls');
  const state = lastSetting(parsed, 'initial-cluster-state');
  if (joining) joiningCheck(parsed, joining, out);
  if (state && state.value !== 'new' && state.value !== 'existing') {
    const near = /^e/i.test(state.value) ? 'existing' : /^n/i.test(state.value) ? 'new' : undefined;
    out.push({
      range: state.valueRange,
      severity: 'error',
      code: 'invalid-initial-cluster-state',
      message: `${state.key} is "${state.value}": etcd accepts only "new" or "existing" and exits at start.`,
      fix: near ? setFix(parsed, state, near, `Set ${state.key} to ${near}`) : undefined,
    });
  }
  if (!ic) return;
  const members = parseInitialCluster(ic.value).members;
  if (name && members.length) {
    const mine = members.find((m) => m.name === name.value);
    const advUrls = adv
      ? adv.value
          .split(',')
          .map((u) => u.trim())
          .filter(Boolean)
      : [];
    if (!mine) {
      const byUrl = advUrls.length
        ? members.find((m) => m.peerURLs.some((u) => advUrls.some((a) => normUrl(a) === normUrl(u))))
        : undefined;
      let fix: DiagnosticFix | undefined;
      if (byUrl) {
        const items = ic.value.split(',').map((item) => {
          const eq = item.indexOf('=');
          return eq > 0 && item.slice(0, eq).trim() === byUrl.name ? `${name.value}=${item.slice(eq + 1)}` : item;
        });
        fix = setFix(parsed, ic, items.join(','), `Rename "${byUrl.name}" to "${name.value}" in ${ic.key}`);
      } else if (advUrls.length) {
        fix = setFix(
          parsed,
          ic,
          `${ic.value},${advUrls.map((u) => `${name.value}=${u}`).join(',')}`,
          `Add ` + `${name.value}=${advUrls.join(',')} to ${ic.key}`,
        );
      }
      out.push({
        range: ic.valueRange,
        severity: 'error',
        code: 'initial-cluster-missing-name',
        message:
          `${ic.key} has no member named "${name.value}" (${name.key}): with an empty data dir (a new member, or after a ` +
          `restore) etcd exits at start ("couldn't find local name "${name.value}" in the initial cluster configuration").`,
        fix,
      });
    } else if (advUrls.length) {
      const a = [...new Set(advUrls.map(normUrl))].sort();
      const b = [...new Set(mine.peerURLs.map(normUrl))].sort();
      if (a.join(',') !== b.join(',')) {
        const items: string[] = [];
        let done = false;
        for (const item of ic.value.split(',')) {
          const eq = item.indexOf('=');
          if (eq > 0 && item.slice(0, eq).trim() === name.value) {
            if (!done) items.push(...advUrls.map((u) => `${name.value}=${u}`));
            done = true;
          } else {
            items.push(item);
          }
        }
        out.push({
          range: ic.valueRange,
          severity: 'error',
          code: 'initial-cluster-url-mismatch',
          message:
            `${ic.key} gives ${name.value}=${mine.peerURLs.join(',')}, but ${adv?.key} is ${advUrls.join(',')}: with an empty ` +
            `data dir etcd exits at start ("--initial-cluster has ${name.value}=${mine.peerURLs[0]} but missing from ` +
            `--initial-advertise-peer-urls").`,
          fix: setFix(parsed, ic, items.join(','), `Use ${advUrls.join(',')} for ${name.value} in ${ic.key}`),
        });
      }
    }
  }
  const others = members.filter((m) => m.name !== name?.value);
  const listed = !name || members.some((m) => m.name === name.value);
  if (!joining && state?.value === 'new' && others.length && listed) {
    const r = setSetting(parsed, 'initial-cluster-state', 'existing');
    out.push({
      range: state.valueRange,
      severity: 'hint',
      code: 'initial-cluster-state-new',
      message:
        `${state.key} is "new" and ${ic.key} lists ${others.length} other member${others.length === 1 ? '' : 's'}: a member ` +
        `that joins a running cluster (after member add or a replacement) must start with "existing", or it fails with "cluster ID ` +
        `mismatch" / "member count is unequal". Keep "new" only when every member of a new or restored cluster starts together.`,
      fix: r.ok ? fixOf(`Set ${state.key} to existing`, r.edits) : undefined,
    });
  }
}

function duplicateChecks(parsed: ParsedEtcdFile, out: EtcdDiagnostic[]): void {
  const groups = new Map<string, EtcdSetting[]>();
  for (const s of parsed.settings) {
    const k = `${s.form === 'env' ? 'env' : 'flag'}:${s.name}`;
    const g = groups.get(k) ?? [];
    g.push(s);
    groups.set(k, g);
  }
  for (const g of groups.values()) {
    if (g.length < 2) continue;
    const last = g[g.length - 1];
    for (const s of g.slice(0, -1)) {
      const who =
        parsed.kind === 'manifest' && s.form === 'env'
          ? 'the kubelet keeps the last ' + 'one'
          : parsed.kind === 'env' || s.form === 'env'
            ? 'systemd keeps the last ' + 'one'
            : parsed.kind === 'config'
              ? 'the YAML reader keeps the last one'
              : 'etcd uses the last one';
      out.push({
        range: s.entryRange,
        severity: 'warning',
        code: 'duplicate-setting',
        message:
          `${s.key} is given ${g.length} times; ${who} (${last.value}) and ignores this ` +
          `one${s.value === last.value ? '' : ` (${s.value})`}.`,
        fix: fixOf(`Remove this ${s.key}`, removeEntryEdits(parsed, s)),
      });
    }
  }
}

/** Is a key of etcd's config file known (to `version`, or to any of 3.4 to 3.6), and to which releases? */
function configKeyReleases(key: string): EtcdMinor[] {
  const parts = key.split('.');
  return ETCD_MINORS.filter((m) => {
    const r = ETCD_RELEASES[m];
    if (parts.length === 1) return r.configKeys.includes(key);
    if (parts.length !== 2) return false;
    if (parts[0] === 'client-transport-security' || parts[0] === 'peer-transport-security') return r.transportKeys.includes(parts[1]);
    if (parts[0] === 'socket-options') return SOCKET_OPTION_KEYS[m].includes(parts[1]);
    return false;
  });
}

/** "etcd 3.5 (the image registry.k8s.io/etcd:3.5.15-0)" or "etcd 3.4, 3.5 or 3.6". */
function releaseWords(parsed: ParsedEtcdFile): string {
  return parsed.etcdVersion
    ? `etcd ${parsed.etcdVersion} ` + `(${parsed.etcdVersionSource ?? 'the release this file names'})`
    : `etcd ${releaseList(ETCD_MINORS)}`;
}

function unknownChecks(parsed: ParsedEtcdFile, out: EtcdDiagnostic[]): void {
  const v = parsed.etcdVersion;
  // a shell script between the file and etcd may use variables of its own
  const script = parsed.problems.some((p) => p.code === 'shell-command');
  for (const s of parsed.settings) {
    if (s.form === 'env' && (EXTRA_ENV_VARS.has(s.key) || WRAPPER_ENV_VARS.has(s.key) || script)) continue;
    const releases = s.form === 'config' ? configKeyReleases(s.key) : flagReleases(s.name);
    if (v ? releases.includes(v) : releases.length) continue;
    const nested = s.form === 'config' && s.key.includes('.');
    const guess = releases.length ? undefined : nested ? closestOf(s.key.replace(/^.*\./, ''), TRANSPORT_KEYS) : closestFlag(s.name);
    const guessKey = guess
      ? s.form === 'env'
        ? envNameOf(guess)
        : s.form === 'config'
          ? nested
            ? s.key.replace(/[^.]+$/, guess)
            : guess
          : `--${guess}`
      : undefined;
    const rename = guess ? renameKeyEdit(parsed, s, guess) : undefined;
    const known = releases.length ? ` (it is one of etcd ${releaseList(releases)})` : '';
    const what =
      s.form === 'env'
        ? `${s.key} is not a variable of ${releaseWords(parsed)}${known}: etcd logs "unrecognized environment variable" and ignores it`
        : s.form === 'config'
          ? `"${s.key}" is not a key of ${releaseWords(parsed)}'s config file${known}: etcd ignores it`
          : `${s.key} is not a flag of ${releaseWords(parsed)}${known}: etcd exits at start ("flag provided but not defined: ${s.key}")`;
    out.push({
      range: s.keyRange,
      severity: s.form === 'env' || s.form === 'config' ? 'warning' : 'error',
      code: s.form === 'env' ? 'unknown-variable' : s.form === 'config' ? 'unknown-key' : 'unknown-flag',
      message: `${what}.${guessKey ? ` Did you mean ${guessKey}?` : ''}`,
      fix: guessKey && rename ? { title: `Change to ${guessKey}`, edits: [rename] } : undefined,
    });
  }
}

function conflictChecks(parsed: ParsedEtcdFile, related: readonly ParsedEtcdFile[], out: EtcdDiagnostic[]): void {
  const conflict = (env: EtcdSetting, flag: string): string =>
    `${env.key} is set and the command line also passes --${env.name}${flag}: etcd exits at start ("conflicting environment variable ` +
    `"${env.key}" is shadowed by corresponding command-line flag").`;
  const commandFlags = (p: ParsedEtcdFile): EtcdSetting[] =>
    p.settings.filter((s) => s.form !== 'env' && (p.kind === 'systemd' || p.kind === 'manifest'));
  if (parsed.kind === 'systemd' || parsed.kind === 'manifest') {
    const flags = new Set(commandFlags(parsed).map((s) => s.name));
    const from = parsed.kind === 'manifest' ? 'env' : 'Environment=';
    for (const s of parsed.settings.filter((x) => x.form === 'env' && flags.has(x.name))) {
      const message = conflict(s, parsed.kind === 'manifest' ? '' : ' (ExecStart=)');
      out.push({
        range: s.entryRange,
        severity: 'error',
        code: 'env-flag-conflict',
        message,
        fix: fixOf(`Remove ${s.key} from ${from}`, removeEntryEdits(parsed, s)),
      });
    }
  }
  if (parsed.kind === 'systemd') {
    for (const r of related.filter((x) => x.kind === 'env')) {
      for (const f of commandFlags(parsed)) {
        const env = lastSetting(r, f.name);
        if (!env) continue;
        out.push({
          range: f.entryRange,
          severity: 'error',
          code: 'env-flag-conflict',
          message:
            `${f.key} is passed here and ${env.key} is set in ${r.fileName ?? 'the env file'}: etcd exits at start ` +
            `("conflicting environment variable "${env.key}" is shadowed by corresponding command-line flag").`,
          fix: fixOf(`Remove ${f.key} (keep ${env.key} of the env file)`, removeEntryEdits(parsed, f)),
        });
      }
    }
  }
  if (parsed.kind === 'env') {
    for (const r of related.filter((x) => x.kind === 'systemd' || x.kind === 'manifest')) {
      const flags = new Set(commandFlags(r).map((s) => s.name));
      for (const s of parsed.settings.filter((x) => flags.has(x.name))) {
        out.push({
          range: s.entryRange,
          severity: 'error',
          code: 'env-flag-conflict',
          message: conflict(s, ` ` + `(${r.fileName ?? 'the unit'})`),
          fix: fixOf(`Remove ${s.key} (the unit's --${s.name} wins)`, removeEntryEdits(parsed, s)),
        });
      }
    }
  }
}

function configFileChecks(parsed: ParsedEtcdFile, out: EtcdDiagnostic[]): void {
  const cf = lastSetting(parsed, 'config-file');
  if (!cf || parsed.kind === 'config') return;
  const others = parsed.settings.filter((s) => s.name !== 'config-file' && s.key !== 'ETCD_UNSUPPORTED_ARCH');
  if (!others.length) return;
  const names = others
    .slice(0, 3)
    .map((s) => s.key)
    .join(', ');
  out.push({
    range: cf.entryRange,
    severity: 'warning',
    code: 'config-file-overrides',
    message:
      `${cf.key} is given: etcd reads its settings only from ${cf.value} and ignores the ${others.length} other ` +
      `setting${others.length === 1 ? '' : 's'} here (${names}${others.length > 3 ? ', …' : ''}).`,
  });
}
