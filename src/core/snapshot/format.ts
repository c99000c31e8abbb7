/**
 * Text for people: sizes as etcdctl prints them (go-humanize's SI bytes), tables like
 * etcdctl's (olekukonko/tablewriter), and the snapshot report in Markdown (the VS Code
 * report page and `snapshot inspect`'s text). No vscode here.
 */
import type { SnapshotDiff, SnapshotReport } from './inspect';
import type { SnapshotStatus } from './status';
import type { VerifyResult } from './verify';

/** Bytes as go-humanize's `Bytes` (what etcdctl's table shows): "25 kB", "1.6 GB", "7 B". */
export function humanBytes(n: number): string {
  if (n < 10) return `${n} B`;
  const sizes = ['B', 'kB', 'MB', 'GB', 'TB', 'PB', 'EB'];
  const e = Math.floor(Math.log(n) / Math.log(1000));
  const val = Math.floor((n / Math.pow(1000, e)) * 10 + 0.5) / 10;
  return `${val < 10 ? val.toFixed(1) : val.toFixed(0)} ${sizes[e]}`;
}

function centre(s: string, width: number): string {
  const gap = width - s.length;
  if (gap <= 0) return s;
  const left = Math.floor(gap / 2);
  return ' '.repeat(left) + s + ' '.repeat(gap - left);
}

/**
 * A table as etcdctl draws one: `+---+` rules, upper-case centred headers, cells aligned
 * right (or left where `left[i]`).
 */
export function textTable(headers: string[], rows: string[][], left: boolean[] = []): string {
  const widths = headers.map((h, i) => Math.max(h.length, ...rows.map((r) => (r[i] ?? '').length)));
  const rule = `+${widths.map((w) => '-'.repeat(w + 2)).join('+')}+`;
  const line = (cells: string[], head: boolean): string =>
    `|${cells
      .map((c, i) => {
        const w = widths[i];
        const text = head ? centre(c.toUpperCase(), w) : left[i] ? c.padEnd(w) : c.padStart(w);
        return ` ${text} `;
      })
      .join('|')}|`;
  return [rule, line(headers, true), rule, ...rows.map((r) => line(r, false)), rule].join('\n');
}

/** `etcdctl snapshot status` output in its three forms. */
export function formatStatus(s: SnapshotStatus, format: 'simple' | 'table' | 'json'): string {
  if (format === 'json') {
    const j: Record<string, unknown> = { hash: s.hash, revision: s.revision, totalKey: s.totalKey, totalSize: s.totalSize };
    if (s.version !== undefined) j.version = s.version;
    return JSON.stringify(j);
  }
  const row = [s.hashHex, String(s.revision), String(s.totalKey), humanBytes(s.totalSize), ...(s.version !== undefined ? [s.version] : [])];
  if (format === 'simple') return row.join(', ');
  return textTable(['hash', 'revision', 'total keys', 'total size', ...(s.version !== undefined ? ['version'] : [])], [row]);
}

function md(s: string): string {
  return s.replace(/([\\`*_[\]|<>])/g, '\\$1');
}

/** A code span (no escapes inside one: a longer fence when the text holds backticks; pipes as entities for tables). */
function code(s: string): string {
  const fence = s.includes('`') ? '``' : '`';
  const pad = s.startsWith('`') || s.endsWith('`') ? ' ' : '';
  return `${fence}${pad}${s.replace(/\|/g, '&#124;')}${pad}${fence}`;
}

/** The snapshot report as Markdown: status figures, members inside, keyspace by prefix. */
export function reportMarkdown(
  r: SnapshotReport,
  opts: { title?: string; verify?: VerifyResult; fileTime?: Date; maxPrefixes?: number } = {},
): string {
  const s = r.status;
  const out: string[] = [];
  out.push(`# ${md(opts.title ?? r.path)}`, '');
  if (opts.verify) {
    out.push(opts.verify.ok ? `**Verified:** ${md(opts.verify.summary)}` : `**Not sound:** ${md(opts.verify.reason ?? 'corrupt')}`, '');
  }
  out.push('## Status', '', '| Figure | Value |', '| --- | --- |');
  const rows: [string, string][] = [
    ['Hash (CRC-32C)', `${s.hashHex} (${s.hash})`],
    ['Revision', String(s.revision)],
    ['Total keys (every bucket, as etcdctl 3.4/3.5 counts)', String(s.totalKey)],
    ['Total size', `${humanBytes(s.totalSize)} (${s.totalSize} bytes)`],
    ['File size', `${humanBytes(s.fileSize)} (${s.fileSize} bytes)`],
    [
      'SHA-256 trailer',
      s.hasHashTrailer ? (s.sha256 ? (s.sha256.ok ? 'present, matches' : 'present, DOES NOT MATCH') : 'present') : 'none (a raw db copy?)',
    ],
    ['Free pages', `${s.freePages} (${humanBytes(s.freePages * s.pageSize)} a defragmentation would reclaim)`],
  ];
  if (s.version !== undefined) rows.push(['Storage version', s.version]);
  if (r.clusterVersion) rows.push(['Cluster version', r.clusterVersion]);
  if (r.consistentIndex) rows.push(['Consistent index (raft)', r.consistentIndex]);
  if (r.term) rows.push(['Term', r.term]);
  if (r.compactRevision !== undefined) rows.push(['Compacted at revision', String(r.compactRevision)]);
  rows.push(['Leases', String(r.leases)]);
  if (r.authEnabled !== undefined)
    rows.push([
      'Auth',
      `${r.authEnabled ? 'enabled' : 'disabled'}` +
        `${r.users.length ? `; users: ${r.users.join(', ')}` : ''}${r.roles.length ? `; roles: ${r.roles.join(', ')}` : ''}`,
    ]);
  if (opts.fileTime) rows.push(['File time', opts.fileTime.toISOString()]);
  for (const [k, v] of rows)
    out.push(`| ${k} | ${k.startsWith('Hash') ? code(v.split(' ')[0]) + ' ' + md(v.split(' ').slice(1).join(' ')) : md(v)} |`);
  out.push('', `## Members stored in the snapshot (${r.members.length})`, '');
  if (r.members.length) {
    out.push('| ID | Name | Peer URLs | Client URLs | Learner |', '| --- | --- | --- | --- | --- |');
    for (const m of r.members)
      out.push(
        `| ${code(m.id)} | ${md(m.name || '(not started)')} | ${md(m.peerURLs.join(', '))} ` +
          `| ${md(m.clientURLs.join(', '))} | ${m.isLearner ? 'yes' : 'no'} |`,
      );
  } else {
    out.push('None recorded.');
  }
  if (r.removedMemberIds.length) out.push('', `Removed members: ${r.removedMemberIds.map((id) => code(id)).join(', ')}`);
  const k = r.keyspace;
  out.push(
    '',
    '## Keyspace',
    '',
    `${k.liveKeys} live keys (${humanBytes(k.liveBytes)} of keys and values) at revision ` +
      `${s.revision}; ${k.revisions} revisions kept (${humanBytes(k.revisionBytes)}), ` +
      `${k.tombstones} tombstones, ${k.deletedKeys} deleted keys not yet compacted away, ` +
      `${k.keysWithLease} keys on a lease. Revisions ${k.oldestRevision}–${k.newestRevision}.`,
    '',
    `By prefix (${k.prefixDepth === 'auto' ? 'Kubernetes resources' : `first ${k.prefixDepth} segments`}), largest first:`,
    '',
    '| Prefix | Live keys | Live bytes | Revisions kept | Bytes kept |',
    '| --- | ---: | ---: | ---: | ---: |',
  );
  const max = opts.maxPrefixes ?? 200;
  for (const p of k.prefixes.slice(0, max))
    out.push(`| ${code(p.prefix)} | ${p.liveKeys} | ${humanBytes(p.liveBytes)} | ${p.revisions} | ${humanBytes(p.revisionBytes)} |`);
  if (k.prefixes.length > max) out.push('', `… and ${k.prefixes.length - max} more prefixes.`);
  if (k.largest.length) {
    out.push('', `Largest keys (key + value):`, '', '| Key | Bytes | Revisions kept |', '| --- | ---: | ---: |');
    for (const l of k.largest) out.push(`| ${code(l.key)} | ${humanBytes(l.bytes)} | ${l.revisions} |`);
  }
  out.push('');
  return out.join('\n');
}

/** A diff as Markdown. */
export function diffMarkdown(d: SnapshotDiff): string {
  const out = [
    `# Snapshot comparison`,
    '',
    `From ${code(d.a.path)} (revision ${d.a.revision}, ${d.a.liveKeys} live keys) ` +
      `to ${code(d.b.path)} (revision ${d.b.revision}, ${d.b.liveKeys} live keys):`,
    '',
    `**${d.added} added, ${d.removed} removed, ${d.changed} changed**, ${d.unchanged} unchanged.`,
    '',
    '| Prefix | Added | Removed | Changed | Bytes |',
    '| --- | ---: | ---: | ---: | ---: |',
    ...d.prefixes.map(
      (p) =>
        `| ${code(p.prefix)} | ${p.added} | ${p.removed} | ${p.changed} | ` +
        `${p.bytesDelta >= 0 ? '+' : '-'}${humanBytes(Math.abs(p.bytesDelta))} |`,
    ),
    '',
  ];
  for (const [what, list] of [
    ['Added', d.samples.added],
    ['Removed', d.samples.removed],
    ['Changed', d.samples.changed],
  ] as const) {
    if (list.length) out.push(`## ${what} (first ${list.length})`, '', ...list.map((k) => `- ${code(k)}`), '');
  }
  return out.join('\n');
}
