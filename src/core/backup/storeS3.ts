/**
 * The S3 object store (AWS S3 and S3-compatible stores: MinIO, Ceph RGW, Cloudflare R2, and
 * s3rver in the tests), over `@aws-sdk/client-s3` + `@aws-sdk/lib-storage`, loaded on first use.
 *
 * Settings chosen for stores that are not AWS (../../../../shared/docs/backup-plans.md):
 * path-style addressing when an endpoint is given, checksums only where the API requires them
 * (`WHEN_REQUIRED`: newer SDKs send CRC32 headers that R2 and others reject), a private CA
 * through an https.Agent, a connection timeout and a socket idle timeout (a server that
 * accepts and never answers fails with a sentence), and a bounded number of attempts.
 * Uploads stream in parts of `partSizeMiB` with `queueSize` parts in flight (memory:
 * partSize × queueSize); a failed multipart upload is aborted (stores that do not implement
 * AbortMultipartUpload keep the parts until a lifecycle rule removes them).
 */
import { promises as fs } from 'fs';
import { Readable } from 'stream';
import { EtcdBackupError } from '../errors';
import type { S3Settings } from './plan';
import type { ObjectStore, StoredObject, UnfinishedUpload, UploadOptions } from './store';

export interface S3Credentials {
  accessKeyId: string;
  secretAccessKey: string;
  sessionToken?: string;
}

/**
 * Read a credentials file: the AWS shared-credentials INI form (`[default]`,
 * `aws_access_key_id = ...`, `aws_secret_access_key = ...`, optional `aws_session_token`; the
 * `[default]` section, or the only one) or `KEY=VALUE` lines (`AWS_ACCESS_KEY_ID=...`).
 */
export function parseCredentials(text: string, source: string): S3Credentials {
  const sections = new Map<string, Record<string, string>>();
  let current = '';
  sections.set(current, {});
  for (const rawLine of text.split(/\r?\n/)) {
    const line = rawLine.trim();
    if (!line || line.startsWith('#') || line.startsWith(';')) continue;
    const sec = /^\[\s*(?:profile\s+)?([^\]]+?)\s*\]$/.exec(line);
    if (sec) {
      current = sec[1];
      if (!sections.has(current)) sections.set(current, {});
      continue;
    }
    const kv = /^(?:export\s+)?([A-Za-z_][A-Za-z0-9_]*)\s*=\s*(.*)$/.exec(line);
    if (kv) (sections.get(current) as Record<string, string>)[kv[1].toLowerCase()] = kv[2].replace(/^(["'])(.*)\1$/, '$2');
  }
  const named = [...sections.entries()].filter(([n, v]) => n && Object.keys(v).length);
  const pick = sections.get('default') ?? (named.length === 1 ? named[0][1] : undefined) ?? sections.get('');
  const id = pick?.aws_access_key_id;
  const secret = pick?.aws_secret_access_key;
  if (!id || !secret) {
    throw new EtcdBackupError(
      'invalidInput',
      `The S3 credentials file ${source} holds no aws_access_key_id and aws_secret_access_key ` +
        `(in [default], or as AWS_ACCESS_KEY_ID=... lines).`,
    );
  }
  return { accessKeyId: id, secretAccessKey: secret, ...(pick.aws_session_token ? { sessionToken: pick.aws_session_token } : {}) };
}

type S3Module = typeof import('@aws-sdk/client-s3');

function loadSdk(): { s3: S3Module; storage: typeof import('@aws-sdk/lib-storage'); http: typeof import('@smithy/node-http-handler') } {
  // The pinned SDK runs on Node 20; its notice about later releases is not for our users.
  process.env.AWS_SDK_JS_NODE_VERSION_SUPPORT_WARNING_DISABLED ??= 'true';
  /* eslint-disable @typescript-eslint/no-require-imports */
  return { s3: require('@aws-sdk/client-s3'), storage: require('@aws-sdk/lib-storage'), http: require('@smithy/node-http-handler') };
  /* eslint-enable @typescript-eslint/no-require-imports */
}

interface AwsError {
  name?: string;
  code?: string;
  message?: string;
  Code?: string;
  $metadata?: { httpStatusCode?: number };
  cause?: unknown;
}

/** Turn an SDK or socket error into one sentence about this store. */
export function explainS3(
  err: unknown,
  where: string,
  settings: Pick<S3Settings, 'bucket' | 'timeoutSeconds'>,
  doing: string,
): EtcdBackupError {
  if (err instanceof EtcdBackupError) return err;
  const e = (err ?? {}) as AwsError;
  const name = e.name ?? e.Code ?? '';
  const code = e.code ?? (e.cause as AwsError | undefined)?.code ?? '';
  const status = e.$metadata?.httpStatusCode;
  const msg = String(e.message ?? err);
  if (name === 'AbortError' || /aborted/i.test(name)) return new EtcdBackupError('cancelled', `${doing} was cancelled.`, { cause: err });
  if (name === 'NoSuchBucket' || (status === 404 && /bucket/i.test(doing))) {
    return new EtcdBackupError(
      'notFound',
      `The bucket "${settings.bucket}" does not exist at ${where}: create it, or fix ` + `remote.s3.bucket in the plan.`,
      { cause: err },
    );
  }
  if (name === 'NoSuchKey' || (status === 404 && name === 'NotFound')) {
    return new EtcdBackupError('notFound', `${doing}: no such object at ${where}.`, { cause: err });
  }
  const refused = ['InvalidAccessKeyId', 'SignatureDoesNotMatch', 'AccessDenied', 'InvalidToken', 'ExpiredToken', 'Forbidden'];
  if (refused.includes(name) || status === 403) {
    return new EtcdBackupError(
      'auth',
      `${where} refused the S3 credentials (${name || `HTTP ${status}`}) while ${doing.toLowerCase()}: ` +
        `check remote.s3.credentialsFile (or AWS_ACCESS_KEY_ID/AWS_SECRET_ACCESS_KEY) and the bucket policy.`,
      { cause: err },
    );
  }
  if (name === 'CredentialsProviderError' || /could not load credentials/i.test(msg)) {
    return new EtcdBackupError(
      'auth',
      `No S3 credentials were found: set remote.s3.credentialsFile in the plan, or AWS_ACCESS_KEY_ID ` +
        `and AWS_SECRET_ACCESS_KEY for the timer.`,
      { cause: err },
    );
  }
  if (name === 'TimeoutError' || /timed? ?out/i.test(msg) || code === 'ETIMEDOUT') {
    return new EtcdBackupError(
      'timeout',
      `${where} did not answer within ${settings.timeoutSeconds} s while ${doing.toLowerCase()}: ` +
        `check that the store is up and not overloaded, or raise remote.s3.timeoutSeconds.`,
      { cause: err },
    );
  }
  if (/ECONNREFUSED|ENOTFOUND|EAI_AGAIN|EHOSTUNREACH|ENETUNREACH/.test(`${code} ${msg}`)) {
    return new EtcdBackupError(
      'unreachable',
      `The S3 store ${where} cannot be reached ` +
        `(${/ENOTFOUND|EAI_AGAIN/.test(`${code} ${msg}`) ? 'unknown host' : 'connection refused'}): ` +
        `check remote.s3.endpoint and that the ` +
        `store is up.`,
      { cause: err },
    );
  }
  if (/ECONNRESET|EPIPE|socket hang up|premature close/i.test(`${code} ${msg}`)) {
    return new EtcdBackupError(
      'unreachable',
      `The connection to ${where} broke while ${doing.toLowerCase()} ` +
        `(${code || 'connection reset'}): the store went away or dropped the connection. Check it and run again.`,
      { cause: err },
    );
  }
  if (/certificate|self.signed|unable to verify|ssl|tls/i.test(`${code} ${msg}`)) {
    return new EtcdBackupError(
      'tls',
      `The TLS handshake with ${where} failed (${msg.split('\n')[0]}): set remote.s3.caFile to the CA ` +
        `that signed the store's certificate.`,
      { cause: err },
    );
  }
  return new EtcdBackupError('internal', `${doing} at ${where} failed: ${name ? `${name}: ` : ''}${msg.split('\n')[0]}.`, { cause: err });
}

/** The SDK client for `settings`: path style, checksums when required, CA, credentials, timeouts. */
type Sdk = ReturnType<typeof loadSdk>;

async function makeClient(settings: S3Settings): Promise<{ client: import('@aws-sdk/client-s3').S3Client; sdk: Sdk }> {
  const sdk = loadSdk();
  const { s3, http } = sdk;
  const https = await import('https');
  const httpMod = await import('http');
  const ca = settings.caFile ? await fs.readFile(settings.caFile) : undefined;
  const credFile = settings.credentialsFile;
  const credentials = credFile ? parseCredentials(await fs.readFile(credFile, 'utf8'), credFile) : undefined;
  const timeout = settings.timeoutSeconds * 1000;
  const agentOpts = { keepAlive: true, maxSockets: settings.queueSize + 2 };
  const requestHandler = new http.NodeHttpHandler({
    connectionTimeout: Math.min(timeout, 10_000),
    socketTimeout: timeout,
    httpsAgent: new https.Agent({ ...agentOpts, ...(ca ? { ca } : {}) }),
    httpAgent: new httpMod.Agent(agentOpts),
  });
  const client = new s3.S3Client({
    region: settings.region,
    ...(settings.endpoint ? { endpoint: settings.endpoint } : {}),
    forcePathStyle: settings.forcePathStyle,
    ...(credentials ? { credentials } : {}),
    requestChecksumCalculation: 'WHEN_REQUIRED',
    responseChecksumValidation: 'WHEN_REQUIRED',
    maxAttempts: settings.maxAttempts,
    requestHandler,
  });
  return { client, sdk };
}

/** lib-storage's Upload: parts of partSizeMiB, queueSize in flight; aborted when the body or the signal fails. */
async function multipartUpload(
  storage: Sdk['storage'],
  client: import('@aws-sdk/client-s3').S3Client,
  settings: S3Settings,
  key: string,
  body: Readable,
  opts: UploadOptions,
): Promise<void> {
  const abortController = new AbortController();
  const onAbort = (): void => abortController.abort();
  opts.signal?.addEventListener('abort', onAbort, { once: true });
  const up = new storage.Upload({
    client,
    params: { Bucket: settings.bucket, Key: key, Body: body, ContentType: opts.contentType ?? 'application/octet-stream' },
    partSize: settings.partSizeMiB * 1024 * 1024,
    queueSize: settings.queueSize,
    leavePartsOnError: false,
    abortController,
  });
  if (opts.onProgress) up.on('httpUploadProgress', (p) => opts.onProgress?.(p.loaded ?? 0));
  // A body that fails (the compressor, the encryptor, the disk) must stop the upload too.
  const onBodyError = (): void => abortController.abort();
  body.once('error', onBodyError);
  try {
    await up.done();
  } finally {
    body.removeListener('error', onBodyError);
    opts.signal?.removeEventListener('abort', onAbort);
  }
}

/** ListMultipartUploads under the prefix, every page: the uploads directly under it; `unsupported` when not implemented. */
async function listUnfinishedUploads(
  s3: Sdk['s3'],
  client: import('@aws-sdk/client-s3').S3Client,
  settings: S3Settings,
  signal?: AbortSignal,
): Promise<UnfinishedUpload[] | 'unsupported'> {
  const out: UnfinishedUpload[] = [];
  let keyMarker: string | undefined;
  let idMarker: string | undefined;
  do {
    const input = { Bucket: settings.bucket, Prefix: settings.prefix, Delimiter: '/', KeyMarker: keyMarker, UploadIdMarker: idMarker };
    const r = await client.send(new s3.ListMultipartUploadsCommand(input), { abortSignal: signal }).catch((err) => {
      const e = err as { name?: string; $metadata?: { httpStatusCode?: number } };
      if (e.name === 'NotImplemented' || e.$metadata?.httpStatusCode === 501) return undefined;
      throw err;
    });
    if (!r) return 'unsupported';
    for (const u of r.Uploads ?? []) {
      const name = u.Key?.startsWith(settings.prefix) ? u.Key.slice(settings.prefix.length) : '';
      if (name && !name.includes('/') && u.UploadId) out.push({ name, uploadId: u.UploadId, initiated: u.Initiated });
    }
    [keyMarker, idMarker] = r.IsTruncated ? [r.NextKeyMarker, r.NextUploadIdMarker] : [undefined, undefined];
  } while (keyMarker);
  return out;
}

/** Open an S3 store for `settings` (reads the CA and credentials files now). */
export async function openS3Store(settings: S3Settings): Promise<ObjectStore> {
  const { client, sdk } = await makeClient(settings);
  const { s3, storage } = sdk;
  const host = settings.endpoint ?? `s3.${settings.region}.amazonaws.com`;
  const where = `s3://${settings.bucket}/${settings.prefix}${settings.endpoint ? ` (${host})` : ''}`;
  const key = (name: string): string => `${settings.prefix}${name}`;
  const fail = (err: unknown, doing: string): EtcdBackupError => explainS3(err, where, settings, doing);

  const store: ObjectStore = {
    where,
    async check(signal) {
      try {
        await client.send(new s3.HeadBucketCommand({ Bucket: settings.bucket }), { abortSignal: signal });
      } catch (err) {
        throw fail(err, 'Checking the bucket');
      }
    },
    async list(signal) {
      const out: StoredObject[] = [];
      let token: string | undefined;
      try {
        do {
          const r = await client.send(
            new s3.ListObjectsV2Command({ Bucket: settings.bucket, Prefix: settings.prefix, Delimiter: '/', ContinuationToken: token }),
            { abortSignal: signal },
          );
          for (const o of r.Contents ?? []) {
            if (!o.Key || !o.Key.startsWith(settings.prefix)) continue;
            const name = o.Key.slice(settings.prefix.length);
            if (name && !name.includes('/')) out.push({ name, size: Number(o.Size ?? 0), lastModified: o.LastModified });
          }
          token = r.IsTruncated ? r.NextContinuationToken : undefined;
        } while (token);
      } catch (err) {
        throw fail(err, 'Listing the backups');
      }
      return out;
    },
    async upload(name, body, opts: UploadOptions = {}) {
      try {
        await multipartUpload(storage, client, settings, key(name), body, opts);
      } catch (err) {
        const bodyErr = (body as Readable & { errored?: unknown }).errored;
        if (bodyErr) throw bodyErr;
        throw fail(err, `Uploading ${name}`);
      }
    },
    async putSmall(name, body, contentType = 'application/json') {
      try {
        await client.send(new s3.PutObjectCommand({ Bucket: settings.bucket, Key: key(name), Body: body, ContentType: contentType }));
      } catch (err) {
        throw fail(err, `Writing ${name}`);
      }
    },
    async download(name, signal) {
      try {
        const r = await client.send(new s3.GetObjectCommand({ Bucket: settings.bucket, Key: key(name) }), { abortSignal: signal });
        return r.Body as Readable;
      } catch (err) {
        throw fail(err, `Reading ${name}`);
      }
    },
    async getSmall(name, signal) {
      const stream = await store.download(name, signal);
      const chunks: Buffer[] = [];
      try {
        for await (const c of stream) chunks.push(c as Buffer);
      } catch (err) {
        throw fail(err, `Reading ${name}`);
      }
      return Buffer.concat(chunks);
    },
    async remove(name) {
      try {
        await client.send(new s3.DeleteObjectCommand({ Bucket: settings.bucket, Key: key(name) }));
      } catch (err) {
        throw fail(err, `Deleting ${name}`);
      }
    },
    listUnfinished(signal) {
      return listUnfinishedUploads(s3, client, settings, signal).catch((err) => Promise.reject(fail(err, 'Listing unfinished uploads')));
    },
    async abortUnfinished(u) {
      try {
        await client.send(new s3.AbortMultipartUploadCommand({ Bucket: settings.bucket, Key: key(u.name), UploadId: u.uploadId }));
      } catch (err) {
        throw fail(err, `Aborting the unfinished upload of ${u.name}`);
      }
    },
    close() {
      client.destroy();
    },
  };
  return store;
}
