/**
 * `etcd-backup snapshot status|verify|inspect|keys|diff`: the native snapshot reader on the
 * command line (no etcdctl needed). `status` prints what `etcdctl snapshot status` prints
 * (same JSON keys, same table); `verify` checks the SHA-256 trailer and the bbolt structure,
 * and with `--trial-restore` proves the file restores. Registered in src/cli/snapshot.ts.
 */
import { diffMarkdown, formatStatus, humanBytes, reportMarkdown, textTable } from '../core/snapshot/format';
import { command, CommandSpec, ParsedValues, stringValue, writeOutFlag } from './args';
import { CliUsageError } from './types';

type Format = 'simple' | 'table' | 'json';

function writeFormat(flags: ParsedValues, allowed: Format[], dflt: Format): Format {
  const w = flags['write-out'];
  if (w === undefined) return dflt;
  if (typeof w !== 'string' || !allowed.includes(w as Format)) {
    throw new CliUsageError(`-w must be one of ${allowed.join(', ')}.`);
  }
  return w as Format;
}

const ONE_FILE = { usage: '<file>', min: 1, max: 1, sentence: 'give exactly one snapshot file.' };
const PREFIX_DEPTH = {
  type: 'string',
  value: 'N',
  help: 'group keys by their first N path segments (default: Kubernetes resources)',
} as const;

/** Ctrl-C stops a long walk cleanly. */
function interruptible(): { signal: AbortSignal; done: () => void } {
  const ac = new AbortController();
  const onSig = (): void => ac.abort();
  process.once('SIGINT', onSig);
  return { signal: ac.signal, done: () => process.removeListener('SIGINT', onSig) };
}

const statusSpec: CommandSpec = {
  name: 'snapshot status',
  summary: 'hash, revision, total keys and size of a snapshot file (as etcdctl snapshot status)',
  positionals: ONE_FILE,
  options: {
    'write-out': writeOutFlag('simple', 'table', 'json'),
    'check-hash': { type: 'boolean', help: 'also check the SHA-256 trailer (exit 1 when the file has none)' },
  },
  description: `Prints the snapshot's hash (CRC-32C), revision, total keys and total size as
\`etcdctl snapshot status\` does, read natively. The file's bbolt structure is checked
first; a corrupt or truncated file is an error. --check-hash also checks the SHA-256 trailer:
a file without one (a raw member/snap/db copy) then exits 1, saying the check did not run.`,
};

export const statusCommand = command(statusSpec, async (flags, positionals) => {
  const file = positionals[0];
  const format = writeFormat(flags, ['simple', 'table', 'json'], 'simple');
  const { snapshotStatus } = await import('../core/snapshot/status');
  const it = interruptible();
  try {
    const s = await snapshotStatus(file, { signal: it.signal, checkHash: flags['check-hash'] === true });
    process.stdout.write(`${formatStatus(s, format)}\n`);
    if (s.sha256 && !s.sha256.ok) {
      process.stderr.write(`${file} is corrupt: the SHA-256 of its database does not match its trailer.\n`);
      return 1;
    }
    if (flags['check-hash'] === true && !s.sha256) {
      // A check that could not run is not a check that passed.
      const why = `${file} has no SHA-256 trailer (a member/snap/db copied out of a data dir looks like this)`;
      process.stderr.write(`etcd-backup snapshot status: the hash check did not run: ${why}. The figures come from its pages only.\n`);
      return 1;
    }
    return 0;
  } catch (err) {
    return corrupt('status', err);
  } finally {
    it.done();
  }
});

/**
 * A corrupt file: its one-sentence message, then each problem, on stderr; exit status 1.
 * Other errors go back to main(), which prints their sentence.
 */
function corrupt(command: string, err: unknown): number {
  const e = err as { kind?: string; message?: string; problems?: string[] };
  if (e?.kind !== 'corrupt') throw err;
  process.stderr.write(`etcd-backup snapshot ${command}: ${e.message}\n${(e.problems ?? []).map((p) => `  - ${p}\n`).join('')}`);
  return 1;
}

const verifySpec: CommandSpec = {
  name: 'snapshot verify',
  summary: 'check the SHA-256 trailer and the bbolt structure (and prove it restores with --trial-restore)',
  positionals: ONE_FILE,
  options: {
    'trial-restore': { type: 'boolean', help: 'then restore it into a throwaway member and compare (see `snapshot trial-restore`)' },
    'skip-hash-check': { type: 'boolean', help: 'structure only, for a file without a SHA-256 trailer' },
    'write-out': writeOutFlag('simple', 'json'),
    etcdutl: { type: 'string', value: 'PATH', help: 'with --trial-restore: the etcdutl to restore with' },
    etcdctl: { type: 'string', value: 'PATH', help: 'with --trial-restore: the etcdctl to fall back on' },
    etcd: { type: 'string', value: 'PATH', help: 'with --trial-restore: the etcd to start' },
  },
  description: `Checks the SHA-256 trailer and the bbolt structure (both meta pages, every page id below
the high-water mark, each page reached once, keys in order), and that it is an etcd database
(its "key" and "meta" buckets). A file without a SHA-256 trailer (a raw member/snap/db copy)
fails, as restore refuses it, unless --skip-hash-check is given (structure only; the output
then says the hash check was skipped). With --trial-restore it then restores the file into a
temporary directory, starts a throwaway member on loopback and compares its revision and key
count with the file (see \`snapshot trial-restore\`).
Exit status 0 when sound; 1 with the reason on stderr otherwise.`,
};

export const verifyCommand = command(verifySpec, async (flags, positionals) => {
  const file = positionals[0];
  const format = writeFormat(flags, ['simple', 'json'], 'simple');
  const { verifySnapshot } = await import('../core/snapshot/verify');
  const it = interruptible();
  let r;
  try {
    r = await verifySnapshot(file, { signal: it.signal, skipHash: flags['skip-hash-check'] === true, requireTrailer: true });
  } finally {
    it.done();
  }
  if (format === 'json' && !flags['trial-restore']) {
    process.stdout.write(`${JSON.stringify(r, null, 2)}\n`);
  } else if (r.ok) {
    process.stdout.write(`${file}: OK. ${r.summary}\n${r.notes.map((n) => `  note: ${n}\n`).join('')}`);
  }
  if (!r.ok) {
    const hint = r.refusedForNoTrailer ? ' To check its structure only, run again with --skip-hash-check.' : '';
    process.stderr.write(`etcd-backup snapshot verify: ${r.reason}${hint}\n${r.problems.map((p) => `  - ${p}\n`).join('')}`);
    return 1;
  }
  if (flags['trial-restore']) {
    const { runTrialRestore } = await import('./restore');
    const { code } = await runTrialRestore(file, {
      json: format === 'json',
      skipHashCheck: flags['skip-hash-check'] === true,
      etcdutl: stringValue(flags, 'etcdutl'),
      etcdctl: stringValue(flags, 'etcdctl'),
      etcd: stringValue(flags, 'etcd'),
    });
    return code;
  }
  return 0;
});

const inspectSpec: CommandSpec = {
  name: 'snapshot inspect',
  summary: 'members, cluster version and the keyspace by prefix inside a snapshot',
  positionals: ONE_FILE,
  options: {
    'prefix-depth': PREFIX_DEPTH,
    top: { type: 'string', value: 'N', help: 'how many prefixes to show (default 30)' },
    'write-out': writeOutFlag('table', 'markdown', 'json'),
  },
  description: `What the snapshot holds: the status figures, the members stored inside it, and the keyspace
at its revision by prefix (live keys and bytes, and the revisions kept for them). Prefixes
are Kubernetes resources by default (/registry/pods, /registry/events, ...); --prefix-depth N
groups by the first N path segments instead.`,
};

function depthFlag(flags: ParsedValues): number | 'auto' {
  const d = flags['prefix-depth'];
  if (d === undefined || d === 'auto') return 'auto';
  if (typeof d !== 'string' || !/^[1-9]\d*$/.test(d)) throw new CliUsageError('--prefix-depth must be a positive number (or auto).');
  return Number(d);
}

export const inspectCommand = command(inspectSpec, async (flags, positionals) => {
  const file = positionals[0];
  const w = flags['write-out'] ?? 'table';
  if (w !== 'table' && w !== 'json' && w !== 'markdown') throw new CliUsageError('-w must be one of table, markdown, json.');
  const top = flags.top === undefined ? 30 : Number(flags.top);
  if (!Number.isInteger(top) || top < 1) throw new CliUsageError('--top must be a positive number.');
  const { inspectSnapshot } = await import('../core/snapshot/inspect');
  const it = interruptible();
  try {
    const r = await inspectSnapshot(file, { signal: it.signal, prefixDepth: depthFlag(flags) });
    if (w === 'json') {
      process.stdout.write(`${JSON.stringify(r, null, 2)}\n`);
    } else if (w === 'markdown') {
      process.stdout.write(reportMarkdown(r, { maxPrefixes: top }));
    } else {
      const s = r.status;
      const k = r.keyspace;
      const lines = [
        formatStatus(s, 'table'),
        '',
        `Cluster version ${r.clusterVersion ?? '?'}; consistent index ` +
          `${r.consistentIndex ?? '?'}${r.term ? `; term ${r.term}` : ''}` +
          `${r.compactRevision !== undefined ? `; compacted at ${r.compactRevision}` : ''}; ` +
          `${r.leases} leases; ${s.freePages} free pages (${humanBytes(s.freePages * s.pageSize)}).`,
        '',
        `Members stored in the snapshot (${r.members.length}):`,
        textTable(
          ['id', 'name', 'peer addrs', 'client addrs', 'is learner'],
          r.members.map((m) => [m.id, m.name, m.peerURLs.join(','), m.clientURLs.join(','), String(m.isLearner)]),
          [true, true, true, true, true],
        ),
        '',
        `Keyspace at revision ${s.revision}: ${k.liveKeys} live keys (${humanBytes(k.liveBytes)}), ${k.revisions} ` +
          `revisions kept (${humanBytes(k.revisionBytes)}), ${k.deletedKeys} deleted keys awaiting compaction.`,
        textTable(
          ['prefix', 'live keys', 'live bytes', 'revisions', 'bytes kept'],
          k.prefixes
            .slice(0, top)
            .map((p) => [p.prefix, String(p.liveKeys), humanBytes(p.liveBytes), String(p.revisions), humanBytes(p.revisionBytes)]),
          [true],
        ),
      ];
      if (k.prefixes.length > top) lines.push(`(${k.prefixes.length - top} more prefixes: --top N, or -w json)`);
      if (k.largest.length) {
        lines.push(
          '',
          'Largest keys:',
          textTable(
            ['key', 'bytes', 'revisions'],
            k.largest.slice(0, Math.min(top, 10)).map((l) => [l.key, humanBytes(l.bytes), String(l.revisions)]),
            [true],
          ),
        );
      }
      process.stdout.write(`${lines.join('\n')}\n`);
    }
    return 0;
  } catch (err) {
    return corrupt('inspect', err);
  } finally {
    it.done();
  }
});

const keysSpec: CommandSpec = {
  name: 'snapshot keys',
  summary: 'list and search the keys and values inside a snapshot',
  positionals: ONE_FILE,
  options: {
    prefix: { type: 'string', value: 'P', help: 'only keys that start with P' },
    'key-contains': { type: 'string', value: 'S', help: 'only keys that contain S' },
    'value-contains': { type: 'string', value: 'S', help: 'only values that contain S' },
    limit: { type: 'string', value: 'N', help: 'at most N keys (default 100)' },
    offset: { type: 'string', value: 'N', help: 'skip the first N matching keys' },
    'keys-only': { type: 'boolean', help: 'the keys, without their values' },
    base64: { type: 'boolean', help: 'with -w json: the exact key and value bytes in base64' },
    'write-out': writeOutFlag('simple', 'json'),
  },
  description: `Lists the live keys at the snapshot's revision (sorted), with their values: text as text,
Kubernetes protobuf objects by kind and name, other binary values as hex. With --base64 and
-w json each key also carries its exact key and value bytes in base64 (keyBase64,
valueBase64), as \`etcdctl get -w json\` prints them.`,
};

export const keysCommand = command(keysSpec, async (flags, positionals) => {
  const file = positionals[0];
  const format = writeFormat(flags, ['simple', 'json'], 'simple');
  const num = (name: string, dflt: number): number => {
    const v = flags[name];
    if (v === undefined) return dflt;
    if (typeof v !== 'string' || !/^\d+$/.test(v)) throw new CliUsageError(`--${name} must be a number.`);
    return Number(v);
  };
  const { listKeys } = await import('../core/snapshot/inspect');
  const it = interruptible();
  try {
    const r = await listKeys(file, {
      signal: it.signal,
      prefix: stringValue(flags, 'prefix'),
      keyContains: stringValue(flags, 'key-contains'),
      valueContains: stringValue(flags, 'value-contains'),
      limit: num('limit', 100),
      offset: num('offset', 0),
      values: !flags['keys-only'],
      base64: flags.base64 === true,
    });
    if (format === 'json') {
      process.stdout.write(`${JSON.stringify(r, null, 2)}\n`);
      return 0;
    }
    for (const k of r.keys) {
      if (flags['keys-only']) {
        process.stdout.write(`${k.key}\n`);
        continue;
      }
      const v = k.value;
      let text = '';
      if (v?.kind === 'text' || v?.kind === 'json') text = (v.text ?? '') + (v.truncated ? ' …' : '');
      else if (v?.kind === 'k8s-protobuf')
        text =
          `[k8s protobuf ${v.k8s?.apiVersion ?? '?'} ` +
          `${v.k8s?.kind ?? '?'}${v.k8s?.namespace ? ` ${v.k8s.namespace}/` : ' '}${v.k8s?.name ?? ''}, ${k.valueSize} bytes]`;
      else if (v?.kind === 'binary') text = `[binary, ${k.valueSize} bytes: ${v.hex}${v.truncated ? '…' : ''}]`;
      else if (v?.kind === 'empty') text = '[empty]';
      process.stdout.write(
        `${k.key}\n  rev ${k.modRevision} (created ${k.createRevision}, ` +
          `version ${k.version}${k.lease ? `, lease ${k.lease}` : ''}): ${text}\n`,
      );
    }
    process.stderr.write(`${r.keys.length} of ${r.matched} matching keys shown.\n`);
    return 0;
  } catch (err) {
    return corrupt('keys', err);
  } finally {
    it.done();
  }
});

const diffSpec: CommandSpec = {
  name: 'snapshot diff',
  summary: 'keys added, removed and changed between two snapshots, by prefix',
  positionals: { usage: '<a> <b>', min: 2, max: 2, sentence: 'give two snapshot files.' },
  options: {
    'prefix-depth': PREFIX_DEPTH,
    limit: { type: 'string', value: 'N', help: 'how many sample keys to list of each kind (default 20)' },
    'write-out': writeOutFlag('table', 'markdown', 'json'),
  },
  description: `Keys added, removed and changed from snapshot a to snapshot b (live keys at each one's
revision; changed means the value differs), summed up by prefix.`,
};

export const diffCommand = command(diffSpec, async (flags, positionals) => {
  const w = flags['write-out'] ?? 'table';
  if (w !== 'table' && w !== 'json' && w !== 'markdown') throw new CliUsageError('-w must be one of table, markdown, json.');
  const limit = flags.limit === undefined ? 20 : Number(flags.limit);
  const { diffSnapshots } = await import('../core/snapshot/inspect');
  const it = interruptible();
  try {
    const d = await diffSnapshots(positionals[0], positionals[1], { signal: it.signal, prefixDepth: depthFlag(flags), limit });
    if (w === 'json') process.stdout.write(`${JSON.stringify(d, null, 2)}\n`);
    else if (w === 'markdown') process.stdout.write(diffMarkdown(d));
    else {
      const lines = [
        `${d.a.path} (revision ${d.a.revision}, ${d.a.liveKeys} keys) -> ${d.b.path} (revision ${d.b.revision}, ` +
          `${d.b.liveKeys} keys): ${d.added} added, ${d.removed} removed, ${d.changed} changed, ${d.unchanged} unchanged.`,
        textTable(
          ['prefix', 'added', 'removed', 'changed', 'bytes'],
          d.prefixes.map((p) => [
            p.prefix,
            String(p.added),
            String(p.removed),
            String(p.changed),
            `${p.bytesDelta >= 0 ? '+' : '-'}${humanBytes(Math.abs(p.bytesDelta))}`,
          ]),
          [true],
        ),
      ];
      for (const [what, list] of [
        ['added', d.samples.added],
        ['removed', d.samples.removed],
        ['changed', d.samples.changed],
      ] as const) {
        if (list.length) lines.push(`${what}:`, ...list.map((k) => `  ${k}`));
      }
      process.stdout.write(`${lines.join('\n')}\n`);
    }
    return 0;
  } catch (err) {
    return corrupt('diff', err);
  } finally {
    it.done();
  }
});
