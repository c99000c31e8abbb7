/**
 * Validation of cluster configurations as they come from settings (untyped JSON).
 * Each problem is one sentence naming the cluster and the field.
 */
import { ClusterConfig, DEFAULT_TIMEOUT_MS, TlsFiles } from './types';

export interface ValidationResult {
  /** Clusters that can be used (normalised). */
  clusters: ClusterConfig[];
  /** One sentence per problem; a cluster with a problem is left out of `clusters`. */
  problems: string[];
}

/**
 * The longest time a Node timer can wait: 2^31 - 1 ms (about 24.8 days). A longer timeout
 * would fire at once (Node clamps it to 1 ms), so every duration is bounded by this at parse
 * time, with a sentence.
 */
export const MAX_TIMER_MS = 2 ** 31 - 1;

/** Bounds of a cluster's `timeoutMs` (dial and per-request deadline). */
export const MIN_TIMEOUT_MS = 100;
export const MAX_TIMEOUT_MS = 600_000;

/** Bounds of the automatic refresh of cluster status, in seconds (0 turns it off). */
export const MAX_REFRESH_SECONDS = 3600;

/**
 * The refresh interval from a raw setting: 0 (off) for anything that is not a positive
 * number, at least 5 s, at most {@link MAX_REFRESH_SECONDS} (a larger value would overflow
 * the timer and refresh every millisecond).
 */
export function refreshIntervalSeconds(raw: unknown): number {
  if (typeof raw !== 'number' || !Number.isFinite(raw) || raw <= 0) return 0;
  return Math.min(MAX_REFRESH_SECONDS, Math.max(5, raw));
}

const NAME_RE = /^[A-Za-z0-9][A-Za-z0-9 ._-]{0,62}$/;

/**
 * Normalise one endpoint: `host:port` becomes `http://host:port`, a trailing slash goes.
 * Returns an error sentence instead when it is not an http(s) URL with a host and port.
 */
export function normalizeEndpoint(raw: string): { url?: string; error?: string } {
  const text = raw.trim();
  if (!text) {
    return { error: 'an endpoint is empty' };
  }
  const withScheme = /^[a-z][a-z0-9+.-]*:\/\//i.test(text) ? text : `http://${text}`;
  let u: URL;
  try {
    u = new URL(withScheme);
  } catch {
    return { error: `"${raw}" is not a URL (expected e.g. https://10.0.0.11:2379)` };
  }
  if (u.protocol !== 'http:' && u.protocol !== 'https:') {
    return { error: `"${raw}" uses ${u.protocol.replace(':', '')}; etcd client URLs are http:// or https://` };
  }
  if (!u.hostname) {
    return { error: `"${raw}" has no host` };
  }
  if ((u.pathname && u.pathname !== '/') || u.search || u.hash) {
    return { error: `"${raw}" has a path; give only scheme, host and port` };
  }
  const port = u.port || (u.protocol === 'https:' ? '443' : '80');
  return { url: `${u.protocol}//${u.hostname.includes(':') && !u.hostname.startsWith('[') ? `[${u.hostname}]` : u.hostname}:${port}` };
}

function isStringArray(v: unknown): v is string[] {
  return Array.isArray(v) && v.every((x) => typeof x === 'string');
}

/** Validate one raw cluster object. */
export function validateCluster(raw: unknown, index = 0): { cluster?: ClusterConfig; problems: string[] } {
  const problems: string[] = [];
  if (typeof raw !== 'object' || raw === null || Array.isArray(raw)) {
    return { problems: [`Cluster #${index + 1} is not an object with "name" and "endpoints".`] };
  }
  const r = raw as Record<string, unknown>;
  const label = typeof r.name === 'string' && r.name.trim() ? `Cluster "${r.name.trim()}"` : `Cluster #${index + 1}`;
  const name = typeof r.name === 'string' ? r.name.trim() : '';
  if (!name) {
    problems.push(`${label} has no "name".`);
  } else if (!NAME_RE.test(name)) {
    problems.push(`${label}: the name may use letters, digits, spaces, ".", "_" and "-" (at most 63 characters).`);
  }

  const endpoints: string[] = [];
  const rawEndpoints = typeof r.endpoints === 'string' ? r.endpoints.split(',') : r.endpoints;
  if (!isStringArray(rawEndpoints) || rawEndpoints.length === 0) {
    problems.push(`${label} has no "endpoints" (a list of client URLs such as https://10.0.0.11:2379).`);
  } else {
    for (const e of rawEndpoints) {
      const n = normalizeEndpoint(e);
      if (n.error) {
        problems.push(`${label}: ${n.error}.`);
      } else if (n.url && !endpoints.includes(n.url)) {
        endpoints.push(n.url);
      }
    }
  }

  let tls: TlsFiles | undefined;
  if (r.tls !== undefined && r.tls !== null) {
    if (typeof r.tls !== 'object' || Array.isArray(r.tls)) {
      problems.push(`${label}: "tls" must be an object with caFile, certFile and keyFile.`);
    } else {
      const t = r.tls as Record<string, unknown>;
      tls = {};
      for (const key of ['caFile', 'certFile', 'keyFile'] as const) {
        const v = t[key];
        if (v === undefined || v === null || v === '') {
          continue;
        }
        if (typeof v !== 'string') {
          problems.push(`${label}: tls.${key} must be a file path.`);
        } else {
          tls[key] = v.trim();
        }
      }
      if (typeof t.insecureSkipVerify === 'boolean') {
        tls.insecureSkipVerify = t.insecureSkipVerify;
      }
      if (Boolean(tls.certFile) !== Boolean(tls.keyFile)) {
        problems.push(`${label}: give both tls.certFile and tls.keyFile, or neither.`);
      }
      if (!tls.caFile && !tls.certFile && !tls.keyFile && !tls.insecureSkipVerify) {
        tls = undefined;
      }
    }
  }
  if (tls && endpoints.some((e) => e.startsWith('http://'))) {
    problems.push(`${label}: TLS files are set but an endpoint uses http://; use https:// endpoints.`);
  }

  let username: string | undefined;
  if (r.username !== undefined && r.username !== null && r.username !== '') {
    if (typeof r.username !== 'string' || r.username.includes(':')) {
      problems.push(`${label}: "username" must be a user name without ":".`);
    } else {
      username = r.username;
    }
  }

  let snapshotDir: string | undefined;
  if (r.snapshotDir !== undefined && r.snapshotDir !== null && r.snapshotDir !== '') {
    if (typeof r.snapshotDir !== 'string') {
      problems.push(`${label}: "snapshotDir" must be a folder path.`);
    } else {
      snapshotDir = r.snapshotDir;
    }
  }

  let timeoutMs = DEFAULT_TIMEOUT_MS;
  if (r.timeoutMs !== undefined && r.timeoutMs !== null) {
    if (typeof r.timeoutMs !== 'number' || !Number.isFinite(r.timeoutMs) || r.timeoutMs < MIN_TIMEOUT_MS || r.timeoutMs > MAX_TIMEOUT_MS) {
      problems.push(`${label}: "timeoutMs" must be a number of milliseconds between ${MIN_TIMEOUT_MS} and ${MAX_TIMEOUT_MS}.`);
    } else {
      timeoutMs = Math.round(r.timeoutMs);
    }
  }

  if (problems.length) {
    return { problems };
  }
  const cluster: ClusterConfig = { name, endpoints, timeoutMs };
  if (tls) cluster.tls = tls;
  if (username) cluster.username = username;
  if (snapshotDir) cluster.snapshotDir = snapshotDir;
  return { cluster, problems };
}

/** Validate the whole list; names must be unique (the first one wins). */
export function validateClusters(raw: unknown): ValidationResult {
  const result: ValidationResult = { clusters: [], problems: [] };
  if (raw === undefined || raw === null) {
    return result;
  }
  if (!Array.isArray(raw)) {
    result.problems.push('The clusters setting must be a list of cluster objects.');
    return result;
  }
  const seen = new Set<string>();
  raw.forEach((item, i) => {
    const v = validateCluster(item, i);
    result.problems.push(...v.problems);
    if (v.cluster) {
      const key = v.cluster.name.toLowerCase();
      if (seen.has(key)) {
        result.problems.push(`Cluster "${v.cluster.name}" is configured twice; the second one is ignored. Give each cluster its own name.`);
        return;
      }
      seen.add(key);
      result.clusters.push(v.cluster);
    }
  });
  return result;
}

/**
 * Endpoints as a person types them: separated by commas, spaces or new lines. Each one is
 * normalised; each bad one gets its own sentence.
 */
export function parseEndpointList(text: string): { endpoints: string[]; problems: string[] } {
  const endpoints: string[] = [];
  const problems: string[] = [];
  for (const raw of text.split(/[\s,]+/).filter(Boolean)) {
    const n = normalizeEndpoint(raw);
    if (n.error) {
      problems.push(`${n.error.charAt(0).toUpperCase()}${n.error.slice(1)}.`);
    } else if (n.url && !endpoints.includes(n.url)) {
      endpoints.push(n.url);
    }
  }
  if (!endpoints.length && !problems.length) {
    problems.push('Give at least one client URL, e.g. https://10.0.0.11:2379.');
  }
  return { endpoints, problems };
}

/**
 * The problem with a new cluster name, or undefined when it is fine. `existing` are the names
 * already configured; `except` is the cluster being edited (it may keep its own name).
 */
export function clusterNameProblem(name: string, existing: readonly string[], except?: string): string | undefined {
  const n = name.trim();
  if (!n) {
    return 'Give the cluster a name, e.g. "prod" or "kubeadm-cp".';
  }
  if (!NAME_RE.test(n)) {
    return (
      'A cluster name may use letters, digits, spaces, ".", "_" and "-", ' + 'starts with a letter or digit, and has at most 63 characters.'
    );
  }
  if (existing.some((e) => e.toLowerCase() === n.toLowerCase() && e.toLowerCase() !== except?.toLowerCase())) {
    return `A cluster named "${n}" already exists. Choose another name, or edit that one.`;
  }
  return undefined;
}

/** A cluster as it is written to settings: only what is set, the default timeout left out. */
export function toSettingsEntry(c: ClusterConfig): Record<string, unknown> {
  const out: Record<string, unknown> = { name: c.name, endpoints: [...c.endpoints] };
  if (c.tls && (c.tls.caFile || c.tls.certFile || c.tls.keyFile || c.tls.insecureSkipVerify)) {
    const tls: Record<string, unknown> = {};
    if (c.tls.caFile) tls.caFile = c.tls.caFile;
    if (c.tls.certFile) tls.certFile = c.tls.certFile;
    if (c.tls.keyFile) tls.keyFile = c.tls.keyFile;
    if (c.tls.insecureSkipVerify) tls.insecureSkipVerify = true;
    out.tls = tls;
  }
  if (c.username) out.username = c.username;
  if (c.snapshotDir) out.snapshotDir = c.snapshotDir;
  if (c.timeoutMs !== undefined && c.timeoutMs !== DEFAULT_TIMEOUT_MS) out.timeoutMs = c.timeoutMs;
  return out;
}
