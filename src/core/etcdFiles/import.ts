/**
 * A draft cluster from an etcd file (the clusters issue's import): endpoints, CA, a client
 * certificate pair from kubeadm's layout, the member name.
 */
import { existsSync } from 'fs';
import { posix } from 'path';
import { normalizeEndpoint } from '../config';
import { ClusterConfig, TlsFiles } from '../types';
import { effectiveSettings, hostPathOf } from './settings';
import { ParsedEtcdFile } from './types';

export interface ImportOptions {
  /** Does a file exist on this machine? (Injectable for tests; default `fs.existsSync`.) */
  exists?: (path: string) => boolean;
  /** The unit's env files, or the unit of an env file (see effectiveSettings). */
  related?: readonly ParsedEtcdFile[];
}

export interface ImportResult {
  /** The draft cluster; undefined when the file names no client URL at all. */
  cluster?: ClusterConfig;
  /** One sentence each: files that are missing, URLs that were changed or dropped, what was guessed. */
  warnings: string[];
}

/** `0.0.0.0` / `[::]` listen on every address: a client reaches the member on loopback. */
function reachable(url: string): string {
  return url.replace(/^(\w+:\/\/)0\.0\.0\.0(?=[:/]|$)/, '$1127.0.0.1').replace(/^(\w+:\/\/)\[::\](?=[:/]|$)/, '$1[::1]');
}

/**
 * A draft ClusterConfig from a parsed etcd file at `filePath`: endpoints from
 * `--advertise-client-urls` (else `--listen-client-urls`, with 0.0.0.0 as 127.0.0.1), the CA from
 * `--trusted-ca-file`, the client pair `healthcheck-client.crt/.key` in the CA's folder when both
 * exist (kubeadm), else the server pair of `--cert-file/--key-file`, the name from `--name`.
 * Paths in a manifest are mapped to the node's paths through its hostPath volumes.
 */
export function clusterFromEtcdFile(parsed: ParsedEtcdFile, filePath: string, opts: ImportOptions = {}): ImportResult {
  const exists = opts.exists ?? existsSync;
  const warnings: string[] = [];
  const where = filePath || parsed.fileName || 'the file';
  const fatal = parsed.problems.find((p) => p.fatal);
  if (fatal) return { warnings: [`${where}: ${fatal.message}`] };
  const eff = effectiveSettings(parsed, opts.related ?? []);

  let raw = eff.advertiseClientUrls;
  let from = '--advertise-client-urls';
  if (!raw.length) {
    raw = eff.listenClientUrls.map(reachable);
    from = '--listen-client-urls';
    if (raw.length) warnings.push(`${where} sets no --advertise-client-urls; the endpoints come from --listen-client-urls.`);
  }
  const endpoints: string[] = [];
  for (const u of raw) {
    const n = normalizeEndpoint(u);
    if (n.url) {
      if (!endpoints.includes(n.url)) endpoints.push(n.url);
    } else {
      warnings.push(`${from} in ${where}: ${n.error ?? `"${u}" is not a client URL`}; left out.`);
    }
  }
  if (!endpoints.length) {
    warnings.push(
      parsed.kind === 'systemd' && parsed.environmentFiles.length && !(opts.related ?? []).length
        ? `${where} names no client URL itself; import ` +
            `${parsed.environmentFiles.map((f) => f.path).join(', ')} (its EnvironmentFile=) instead.`
        : `${where} names no client URL (--advertise-client-urls or --listen-client-urls), so there is no endpoint to connect to.`,
    );
    return { warnings };
  }

  const node = (p: string | undefined, what: string): string | undefined => {
    if (!p) return undefined;
    const h = hostPathOf(parsed, p);
    if (h === undefined) {
      warnings.push(`${what} ${p} is not inside any hostPath volume of the Pod; using the path as written.`);
      return p;
    }
    return h;
  };
  const tls: TlsFiles = {};
  const ca = node(eff.trustedCaFile, '--trusted-ca-file');
  if (ca) tls.caFile = ca;
  const dir = ca ? posix.dirname(ca) : undefined;
  const hcCrt = dir ? posix.join(dir, 'healthcheck-client.crt') : undefined;
  const hcKey = dir ? posix.join(dir, 'healthcheck-client.key') : undefined;
  if (hcCrt && hcKey && exists(hcCrt) && exists(hcKey)) {
    tls.certFile = hcCrt;
    tls.keyFile = hcKey;
  } else {
    const cert = node(eff.certFile, '--cert-file');
    const key = node(eff.keyFile, '--key-file');
    if (cert && key) {
      tls.certFile = cert;
      tls.keyFile = key;
      if (eff.clientCertAuth) {
        warnings.push(
          `No healthcheck-client.crt/.key beside the CA; the server pair (${posix.basename(cert)}) ` +
            `is used as the client certificate (kubeadm's server certificates allow client auth).`,
        );
      }
    } else if (eff.clientCertAuth) {
      warnings.push(
        'etcd requires client certificates (--client-cert-auth), but no certificate pair was found: choose one before connecting.',
      );
    }
  }
  for (const [k, p] of Object.entries(tls) as [keyof TlsFiles, string][]) {
    if (typeof p === 'string' && !exists(p)) warnings.push(`${k} ${p} does not exist on this machine.`);
  }
  const https = endpoints.some((e) => e.startsWith('https://'));
  const cluster: ClusterConfig = { name: eff.name || posix.basename(where).replace(/\.[^.]+$/, '') || 'etcd', endpoints };
  if (https && Object.keys(tls).length) cluster.tls = tls;
  if (!https && Object.keys(tls).length) warnings.push('The client URLs are http://, so the TLS files are not used.');
  if (https && !tls.caFile)
    warnings.push('The client URLs are https:// but no --trusted-ca-file is set: choose the CA that signed the server certificates.');
  if (!eff.name) warnings.push(`${where} sets no --name; the cluster is named "${cluster.name}".`);
  return { cluster, warnings };
}
