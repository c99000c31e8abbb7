/**
 * Data a v3 snapshot does not hold: keys in etcd's v2 store. A member started with
 * `--enable-v2` serves the v2 API (old flannel and Calico set-ups wrote their config there);
 * those keys live in the v2 store (WAL and snap files), not in the v3 database that
 * `snapshot save` streams, so a restore from a snapshot loses them without a word.
 *
 * Two ways to find out, both read-only:
 * - `v2SettingOf` (./v2files, apart so that this module loads no YAML parser): the flag in the
 *   member's etcd files (manifest, env file, config file, unit), through ./etcdFiles;
 * - {@link checkV2Store}: ask a live member `GET /v2/keys/?recursive=true` (plain HTTP or TLS
 *   with the cluster's client certificates) and count the keys in the answer as it streams in.
 *
 * What etcd 3.4.23 does, checked on the real binary: without `--enable-v2` the v2 paths answer
 * `404 page not found`. With it, the listing holds every key and directory except "hidden" ones
 * (names starting with `_`), which the v2 API never lists (they are lost too, and cannot be
 * counted from outside). v3 auth does not cover the v2 API: v2 auth is separate (its own users,
 * `ETCDCTL_API=2 etcdctl auth enable`); with it on and the guest role revoked, the listing answers
 * 401 (errorCode 110). With `--experimental-enable-v2v3=<prefix>` the v2 API is served from the v3
 * store (under the prefix): those keys are in a snapshot, and such a member answers with
 * `X-Raft-Term: 0`.
 *
 * The way out (also checked on 3.4.23): `ETCDCTL_API=2 etcdctl backup --data-dir <member data dir>
 * --backup-dir <dir>` copies the v2 store from the data dir (it works while the member runs, and
 * needs the data dir on the machine it runs on); etcd started on the backup dir with
 * `--force-new-cluster --enable-v2` serves the keys again, hidden ones included. Or
 * `ETCDCTL_API=3 etcdctl migrate --data-dir <dir>` (etcdctl 3.4, on a stopped member) copies the v2
 * keys into the v3 store, where snapshots hold them (keys starting with `_` are not copied).
 *
 * Plain Node, no `vscode`; core returns states and sentences, the callers place them.
 */
import { promises as fs } from 'fs';
import * as http from 'http';
import * as https from 'https';
import { explain, EtcdBackupError, ErrorKind } from './errors';
import { shellQuote } from './etcdctlCommand';
import { ClusterConfig, ClusterSecrets, DEFAULT_TIMEOUT_MS } from './types';
import type { V2FileFinding } from './v2files';

// ---------------------------------------------------------------------------------------
// Counting the keys of a v2 listing as it streams in

/**
 * Counts the nodes of a v2 `GET /v2/keys/?recursive=true` answer without holding it: a byte
 * scanner that knows JSON strings and object keys. A node with a `value` is a key; one with
 * `"dir": true` a directory (the root counts as one). Memory stays small whatever the size.
 */
export class V2ListingCounter {
  keys = 0;
  dirs = 0;
  /** The first few key names, for a message. */
  readonly examples: string[] = [];
  /** `action` was `get`: the answer is a v2 listing. */
  sawGet = false;
  errorCode: number | undefined;
  private inString = false;
  private escape = false;
  /** The current string's first 256 bytes, and its whole length. */
  private readonly str = Buffer.alloc(256);
  private strLen = 0;
  /** The last string closed and nothing but white space since: it may be an object key. */
  private lastString: string | undefined;
  /** The object key whose value comes next. */
  private pendingKey: string | undefined;
  private scalar = '';

  push(chunk: Buffer): void {
    // The next backslash, found once and again only once passed (linear in the chunk).
    let backslash = chunk.indexOf(0x5c);
    for (let i = 0; i < chunk.length; i++) {
      const b = chunk[i];
      if (this.inString) {
        if (!this.escape && b !== 0x22 && b !== 0x5c) {
          // Skip to the next quote or backslash at once: values are most of the bytes.
          if (backslash >= 0 && backslash < i) backslash = chunk.indexOf(0x5c, i);
          let stop = chunk.indexOf(0x22, i);
          if (stop < 0) stop = chunk.length;
          if (backslash >= 0 && backslash < stop) stop = backslash;
          this.addStringBytes(chunk, i, stop);
          i = stop - 1;
          continue;
        }
        this.inStringByte(b);
        continue;
      }
      if (b === 0x20 || b === 0x0a || b === 0x0d || b === 0x09) {
        this.endScalar();
        continue;
      }
      if (b === 0x22) {
        this.endScalar();
        this.inString = true;
        this.strLen = 0;
        this.lastString = undefined;
        continue;
      }
      if (b === 0x3a) {
        // ':' after a string: that string was an object key.
        this.pendingKey = this.lastString;
        this.lastString = undefined;
        continue;
      }
      if (b === 0x2c || b === 0x7d || b === 0x5d || b === 0x7b || b === 0x5b) {
        this.endScalar();
        if (b === 0x7b || b === 0x5b) {
          this.valueStarts(undefined);
        }
        this.lastString = undefined;
        continue;
      }
      // A number, true, false or null.
      if (this.scalar.length < 16) this.scalar += String.fromCharCode(b);
    }
  }

  private inStringByte(b: number): void {
    if (this.escape) {
      this.escape = false;
      this.addStringByte(b);
      return;
    }
    if (b === 0x5c) {
      this.escape = true;
      return;
    }
    if (b === 0x22) {
      this.inString = false;
      const s = this.closedString();
      if (this.pendingKey !== undefined) {
        this.valueStarts(s ?? '');
        this.lastString = undefined;
      } else {
        this.lastString = s;
      }
      return;
    }
    this.addStringByte(b);
  }

  private addStringBytes(chunk: Buffer, from: number, to: number): void {
    const room = 256 - this.strLen;
    if (room > 0) chunk.copy(this.str, this.strLen, from, Math.min(to, from + room));
    this.strLen += to - from;
  }

  private addStringByte(b: number): void {
    if (this.strLen < 256) this.str[this.strLen] = b;
    this.strLen++;
  }

  /**
   * The string just closed, when it can matter: as an object key only the names read below
   * (3 to 9 bytes); as a value, the `key` of the first examples and `action`. Decoding every
   * string would cost more than the rest of the scan.
   */
  private closedString(): string | undefined {
    const n = this.strLen;
    if (this.pendingKey === undefined) {
      return n >= 3 && n <= 9 ? this.str.toString('latin1', 0, n) : undefined;
    }
    const wanted = (this.pendingKey === 'key' && this.examples.length < 3) || this.pendingKey === 'action';
    return wanted && n <= 256 ? this.str.toString('utf8', 0, n) : '';
  }

  private endScalar(): void {
    if (!this.scalar) return;
    const s = this.scalar;
    this.scalar = '';
    this.valueStarts(undefined, s);
  }

  /** The value of `pendingKey` begins: a string (`str`), a scalar, or an object/array (neither). */
  private valueStarts(str: string | undefined, scalar?: string): void {
    const key = this.pendingKey;
    this.pendingKey = undefined;
    if (key === undefined) return;
    if (key === 'value') {
      this.keys++;
    } else if (key === 'dir' && scalar === 'true') {
      this.dirs++;
    } else if (key === 'key' && str !== undefined && this.examples.length < 3) {
      this.examples.push(str);
    } else if (key === 'action' && str === 'get') {
      this.sawGet = true;
    } else if (key === 'errorCode' && scalar !== undefined) {
      this.errorCode = Number(scalar);
    }
  }
}

// ---------------------------------------------------------------------------------------
// Asking a live member

/** What the v2 API of a cluster answered. */
export type V2StoreCheck =
  /** The v2 API answered with its listing: `keys` keys (not counting hidden `_` ones), `dirs` directories below the root. */
  | { state: 'keys'; endpoint: string; keys: number; dirs: number; examples: string[] }
  /** The v2 API is served from the v3 store (`--experimental-enable-v2v3`): its keys are in a snapshot. */
  | { state: 'emulated'; endpoint: string; keys: number }
  /** Every member asked answered 404: no v2 API (`--enable-v2` not set). */
  | { state: 'off'; endpoints: string[] }
  /** The check could not run: why, in one sentence. */
  | { state: 'notRun'; kind: ErrorKind; reason: string; endpoint?: string };

export interface CheckV2Options {
  /** Ask these endpoints (default: the cluster's), all at once; the first listing wins. */
  endpoints?: readonly string[];
  /** Connect-and-headers deadline and the longest pause in the body (default: the cluster's timeout). */
  timeoutMs?: number;
  /** The whole listing must have arrived by then (default 60 s). */
  totalMs?: number;
  signal?: AbortSignal;
}

interface TlsMaterial {
  ca?: Buffer;
  cert?: Buffer;
  key?: Buffer;
  insecure: boolean;
}

async function tlsMaterial(cfg: ClusterConfig): Promise<TlsMaterial> {
  const read = async (p: string | undefined, what: string): Promise<Buffer | undefined> => {
    if (!p) return undefined;
    try {
      return await fs.readFile(p);
    } catch (err) {
      const e = explain(err);
      throw new EtcdBackupError(e.kind, `Cannot read the ${what} ${p}: ${e.message}`, { cause: err });
    }
  };
  return {
    ca: await read(cfg.tls?.caFile, 'CA file'),
    cert: await read(cfg.tls?.certFile, 'client certificate'),
    key: await read(cfg.tls?.keyFile, 'client key'),
    insecure: Boolean(cfg.tls?.insecureSkipVerify),
  };
}

type OneAnswer = V2StoreCheck | { state: 'auth'; endpoint: string };

/** One `GET /v2/keys/?recursive=true` on one endpoint. */
type AskOptions = Required<Pick<CheckV2Options, 'timeoutMs' | 'totalMs'>> & { signal?: AbortSignal };

function askOne(endpoint: string, tls: TlsMaterial, auth: string | undefined, opts: AskOptions): Promise<OneAnswer> {
  let url: URL;
  try {
    url = new URL('/v2/keys/?recursive=true&sorted=false', endpoint);
  } catch {
    return Promise.resolve({ state: 'notRun', kind: 'invalidInput', reason: `"${endpoint}" is not a URL`, endpoint });
  }
  if (opts.signal?.aborted) return Promise.resolve({ state: 'notRun', kind: 'cancelled', reason: 'cancelled', endpoint });
  const secure = url.protocol === 'https:';
  return new Promise<OneAnswer>((resolve) => {
    let done = false;
    const held: { req?: http.ClientRequest } = {};
    const finish = (r: OneAnswer): void => {
      if (done) return;
      done = true;
      clearTimeout(total);
      opts.signal?.removeEventListener('abort', onAbort);
      held.req?.destroy();
      resolve(r);
    };
    const notRun = (kind: ErrorKind, reason: string): void => finish({ state: 'notRun', kind, reason, endpoint });
    const slow = `the v2 API of ${endpoint} did not send its whole listing within ${Math.round(opts.totalMs / 1000)} s`;
    const total = setTimeout(() => notRun('timeout', slow), opts.totalMs);
    const onAbort = (): void => notRun('cancelled', 'cancelled');
    opts.signal?.addEventListener('abort', onAbort, { once: true });
    const headers: Record<string, string> = { accept: 'application/json' };
    if (auth) headers.authorization = `Basic ${auth}`;
    const reqOpts = {
      method: 'GET',
      headers,
      agent: false as const,
      timeout: opts.timeoutMs,
      ...(secure
        ? {
            ca: tls.ca,
            cert: tls.cert,
            key: tls.key,
            rejectUnauthorized: !tls.insecure,
            ...(tls.insecure ? { checkServerIdentity: () => undefined } : {}),
          }
        : {}),
    };
    const req = (secure ? https : http).request(url, reqOpts, (res: http.IncomingMessage) => onResponse(endpoint, res, finish));
    // The socket's idle timeout covers connecting, the headers and every pause in the body.
    held.req = req;
    req.on('timeout', () => notRun('timeout', `no answer from the v2 API of ${endpoint} within ${opts.timeoutMs} ms`));
    req.on('error', (err) => {
      const e = explain(err, endpoint);
      notRun(e.kind, e.message);
    });
    req.end();
  });
}

function onResponse(endpoint: string, res: http.IncomingMessage, finish: (r: OneAnswer) => void): void {
  const status = res.statusCode ?? 0;
  const notRun = (kind: ErrorKind, reason: string): void => finish({ state: 'notRun', kind, reason, endpoint });
  if (status === 404) {
    res.resume();
    finish({ state: 'off', endpoints: [endpoint] });
    return;
  }
  if (status === 401 || status === 403) {
    res.resume();
    finish({ state: 'auth', endpoint });
    return;
  }
  if (status !== 200 || res.headers['x-etcd-index'] === undefined) {
    res.resume();
    const why =
      status === 200 ? `${endpoint} answered /v2/keys, but not as etcd's v2 API does` : `the v2 API of ${endpoint} answered HTTP ${status}`;
    notRun('internal', why);
    return;
  }
  // etcd's v2-over-v3 emulation (--experimental-enable-v2v3) has no raft state to report.
  const emulated = res.headers['x-raft-term'] === '0';
  const counter = new V2ListingCounter();
  res.on('data', (chunk: Buffer) => counter.push(chunk));
  res.on('error', (err) => notRun(explain(err, endpoint).kind, explain(err, endpoint).message));
  res.on('end', () => {
    if (!counter.sawGet) {
      notRun('internal', `the v2 API of ${endpoint} answered without a key listing`);
    } else if (emulated) {
      finish({ state: 'emulated', endpoint, keys: counter.keys });
    } else {
      finish({ state: 'keys', endpoint, keys: counter.keys, dirs: Math.max(0, counter.dirs - 1), examples: counter.examples });
    }
  });
}

/**
 * Ask the cluster's v2 API how many keys its v2 store holds: every endpoint at once, the first
 * listing wins (the v2 store is replicated: one member's answer is the cluster's). 404 from every
 * endpoint is `off`; anything else that keeps the answer away is `notRun` with the reason, never
 * a count of 0. With v2 auth on (separate from v3's), the cluster's user and password are tried
 * once; refused again, it is `notRun`. Never throws.
 */
export async function checkV2Store(cfg: ClusterConfig, secrets: ClusterSecrets = {}, opts: CheckV2Options = {}): Promise<V2StoreCheck> {
  const endpoints = opts.endpoints ?? cfg.endpoints;
  const timeoutMs = opts.timeoutMs ?? cfg.timeoutMs ?? DEFAULT_TIMEOUT_MS;
  const totalMs = opts.totalMs ?? 60_000;
  let tls: TlsMaterial;
  try {
    tls = await tlsMaterial(cfg);
  } catch (err) {
    const e = explain(err);
    return { state: 'notRun', kind: e.kind, reason: e.message };
  }
  const basic =
    cfg.username && secrets.password !== undefined ? Buffer.from(`${cfg.username}:${secrets.password}`).toString('base64') : undefined;
  // Every endpoint at once (a frozen member costs one deadline, not one each); the first
  // listing wins and stops the others.
  const stop = new AbortController();
  const onOuterAbort = (): void => stop.abort();
  opts.signal?.addEventListener('abort', onOuterAbort, { once: true });
  const o = { timeoutMs, totalMs, signal: stop.signal };
  const ask = async (endpoint: string): Promise<V2StoreCheck> => {
    let r = await askOne(endpoint, tls, undefined, o);
    if (r.state === 'auth' && basic) r = await askOne(endpoint, tls, basic, o);
    if (r.state !== 'auth') return r;
    const refused = basic ? ", and it refused the cluster's user" : '';
    return {
      state: 'notRun',
      kind: 'auth',
      endpoint,
      reason: `the v2 API of ${endpoint} asks for credentials (v2 auth is on; its users are separate from v3's${refused})`,
    };
  };
  let results: V2StoreCheck[];
  try {
    const asks = endpoints.map(ask);
    const winner = new Promise<V2StoreCheck>((resolve) => {
      for (const a of asks) void a.then((r) => (r.state === 'keys' || r.state === 'emulated' ? resolve(r) : undefined));
    });
    const raced = await Promise.race([winner, Promise.all(asks)]);
    if (!Array.isArray(raced)) return raced;
    results = raced;
  } finally {
    stop.abort();
    opts.signal?.removeEventListener('abort', onOuterAbort);
  }
  if (opts.signal?.aborted) return { state: 'notRun', kind: 'cancelled', reason: 'cancelled' };
  const off = results.filter((r): r is Extract<V2StoreCheck, { state: 'off' }> => r.state === 'off').flatMap((r) => r.endpoints);
  const failures = results.filter((r): r is Extract<V2StoreCheck, { state: 'notRun' }> => r.state === 'notRun');
  if (!failures.length) return { state: 'off', endpoints: off };
  // Say why the check did not run; when some members said "off", the others were not seen.
  const first = failures[0];
  const also = off.length ? ` (${off.join(', ')} serve${off.length === 1 ? 's' : ''} no v2 API)` : '';
  return { ...first, reason: `${first.reason}${also}` };
}

// ---------------------------------------------------------------------------------------
// Sentences

/** Placeholders for the backup command when the data dir is not known here. */
export const DATA_DIR_PLACEHOLDER = '<member data dir>';

/**
 * The etcd 3.4 command that copies a member's v2 store (run it on the member's machine: it reads
 * the data dir). `backupDir` must not hold another backup.
 */
export function v2BackupCommand(dataDir: string = DATA_DIR_PLACEHOLDER, backupDir = '<backup dir>', walDir?: string): string {
  const wal = walDir ? ` --wal-dir ${shellQuote(walDir)}` : '';
  return `ETCDCTL_API=2 etcdctl backup --data-dir ${shellQuote(dataDir)}${wal} --backup-dir ${shellQuote(backupDir)}`;
}

/** How the keys come back from such a backup, and the other way out, in one sentence. */
export const V2_WAY_OUT =
  'etcd started on the backup dir with --force-new-cluster --enable-v2 serves those keys again; ' +
  "or copy them into the v3 store (then snapshots hold them) with etcdctl 3.4's " +
  '"ETCDCTL_API=3 etcdctl migrate --data-dir <dir>" on a stopped member ' +
  '(keys whose names start with _ are not copied; the application must then read them through the v3 API).';

function keysWord(n: number): string {
  return `${n} key${n === 1 ? '' : 's'}`;
}

/** Does the check say there is v2 data a snapshot would miss? */
export function v2DataAtRisk(c: V2StoreCheck | undefined): boolean {
  return c?.state === 'keys' && c.keys + c.dirs > 0;
}

/**
 * The one-line warning for a cluster whose v2 store holds keys ("this cluster holds N keys in
 * the v2 store that a snapshot does not contain"), or undefined when there is nothing to say.
 */
export function v2Warning(c: V2StoreCheck | undefined): string | undefined {
  if (!c || c.state !== 'keys' || c.keys + c.dirs === 0) return undefined;
  const what = c.keys > 0 ? keysWord(c.keys) : `${c.dirs} director${c.dirs === 1 ? 'y' : 'ies'}`;
  const eg = c.examples.length ? ` (e.g. ${c.examples.slice(0, 2).join(', ')})` : '';
  return `This cluster holds ${what} in the v2 store${eg} that a snapshot does not contain.`;
}

/** A few words for a tree or a status line: "v2 store: 3 keys not in snapshots", "v2 API off", "v2 store not checked: …". */
export function v2Summary(c: V2StoreCheck | undefined): string {
  if (!c) return 'v2 store not checked';
  switch (c.state) {
    case 'keys':
      return c.keys + c.dirs > 0 ? `v2 store: ${keysWord(c.keys)} not in snapshots` : 'v2 store empty';
    case 'emulated':
      return `v2 API served from the v3 store (${keysWord(c.keys)}, in snapshots)`;
    case 'off':
      return 'v2 API off';
    default:
      return `v2 store not checked: ${c.reason}`;
  }
}

/**
 * The warning lines for a save (CLI stderr, VS Code message): what is missing and the command
 * that keeps it; a check that could not run says so. Empty when there is nothing to say.
 */
export function v2SaveWarning(c: V2StoreCheck | undefined, opts: { dataDir?: string; backupDir?: string } = {}): string[] {
  if (!c) return [];
  if (c.state === 'notRun') {
    return c.kind === 'cancelled' ? [] : [`The v2 store was not checked (${c.reason}): a snapshot never contains v2 keys.`];
  }
  const w = v2Warning(c);
  if (!w) return [];
  return [w, `Keep them with (on the member's machine): ${v2BackupCommand(opts.dataDir, opts.backupDir)}`, V2_WAY_OUT];
}

/**
 * The warning before a restore: a snapshot cannot hold v2 keys. `check`: what the cluster the
 * snapshot came from answered (when it could be asked); `files`: this member's etcd files that
 * enable v2. Empty when neither gives a reason to warn.
 */
export function v2RestoreWarning(opts: { check?: V2StoreCheck; files?: readonly V2FileFinding[]; oldDataDir?: string }): string[] {
  const lines: string[] = [];
  const files = (opts.files ?? []).filter((f) => f.enabled && !f.emulatedPrefix);
  const c = opts.check;
  if (c?.state === 'keys' && c.keys + c.dirs > 0) {
    lines.push(
      `The snapshot cannot hold v2 keys; the cluster you restore from had ${keysWord(c.keys)} in its v2 store: ` +
        'they will not be in the restored cluster.',
    );
  } else if (files.length) {
    const where = files.map((f) => `${f.file} (${f.written})`).join(', ');
    lines.push(
      `The snapshot cannot hold v2 keys, and this member's etcd files enable the v2 API: ${where}. ` +
        'Keys written through it will not be in the restored cluster.',
    );
  } else {
    return lines;
  }
  const dataDir = opts.oldDataDir ?? files.find((f) => f.dataDir)?.dataDir;
  const walDir = files.find((f) => f.walDir)?.walDir;
  const cmd = v2BackupCommand(dataDir, undefined, walDir);
  lines.push(`Keep them first (the old data dir is moved aside, not deleted, so this works afterwards too): ${cmd}`);
  lines.push(V2_WAY_OUT);
  return lines;
}
