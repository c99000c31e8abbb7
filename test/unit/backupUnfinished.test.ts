/**
 * Unfinished multipart uploads (a run that died mid-upload leaves its parts): prune aborts this
 * plan's ones older than a day, leaves younger ones and never touches names it did not make.
 * s3rver does not implement ListMultipartUploads or AbortMultipartUpload, so this speaks the two
 * S3 calls from a small HTTP server, through the real AWS SDK client the tool uses; a store that
 * answers NotImplemented (as s3rver does) is reported as not looked at, never as an error.
 */
import { strict as assert } from 'assert';
import { mkdtempSync, rmSync, writeFileSync } from 'fs';
import { createServer, IncomingMessage, Server, ServerResponse } from 'http';
import { AddressInfo } from 'net';
import { tmpdir } from 'os';
import { join } from 'path';
import { generateIdentity } from '../../src/core/backup/age';
import { BackupPlan, parsePlan } from '../../src/core/backup/plan';
import { pruneRemote } from '../../src/core/backup/prune';
import { openS3Store } from '../../src/core/backup/storeS3';

const now = new Date('2026-12-02T12:00:00Z');
const hoursAgo = (h: number): string => new Date(now.getTime() - h * 3600_000).toISOString();
const UPLOADS: [string, string, string][] = [
  ['prod/prod-20261130T000000Z.db.gz.age', 'old-ours', hoursAgo(36)],
  ['prod/prod-20261202T110000Z.db.gz.age', 'young-ours', hoursAgo(1)],
  ['prod/someone-elses.tar', 'foreign', hoursAgo(100)],
  ['prod/deeper/prod-20261130T000000Z.db.gz.age', 'nested', hoursAgo(100)],
];

interface Fake {
  server: Server;
  port: number;
  aborted: string[];
  seen: string[];
}

async function fakeS3(mode: 'ok' | 'notImplemented'): Promise<Fake> {
  const fake: Fake = { server: createServer(), port: 0, aborted: [], seen: [] };
  fake.server.on('request', (req: IncomingMessage, res: ServerResponse) => {
    const url = new URL(req.url ?? '/', 'http://x');
    fake.seen.push(`${req.method} ${url.pathname}${url.search}`);
    req.resume();
    const xml = (body: string, status = 200): void => {
      res.writeHead(status, { 'content-type': 'application/xml' });
      res.end(`<?xml version="1.0" encoding="UTF-8"?>\n${body}`);
    };
    if (req.method === 'GET' && url.searchParams.has('uploads')) {
      if (mode === 'notImplemented') {
        xml(
          '<Error><Code>NotImplemented</Code><Message>A parameter you provided implies functionality that is not implemented</Message></Error>',
          501,
        );
        return;
      }
      const prefix = url.searchParams.get('prefix') ?? '';
      const ups = UPLOADS.filter(([k]) => k.startsWith(prefix) && !k.slice(prefix.length).includes('/'))
        .map(([k, id, at]) => `<Upload><Key>${k}</Key><UploadId>${id}</UploadId><Initiated>${at}</Initiated></Upload>`)
        .join('');
      xml(
        `<ListMultipartUploadsResult><Bucket>bkt</Bucket><Prefix>${prefix}</Prefix><IsTruncated>false</IsTruncated>${ups}</ListMultipartUploadsResult>`,
      );
    } else if (req.method === 'GET' && url.searchParams.get('list-type') === '2') {
      xml(
        '<ListBucketResult><Name>bkt</Name><Prefix>prod/</Prefix><KeyCount>0</KeyCount><IsTruncated>false</IsTruncated></ListBucketResult>',
      );
    } else if (req.method === 'DELETE' && url.searchParams.has('uploadId')) {
      fake.aborted.push(`${decodeURIComponent(url.pathname)} ${url.searchParams.get('uploadId')}`);
      res.writeHead(204).end();
    } else {
      xml('<Error><Code>InvalidRequest</Code><Message>unexpected</Message></Error>', 400);
    }
  });
  await new Promise<void>((r) => fake.server.listen(0, '127.0.0.1', r));
  fake.port = (fake.server.address() as AddressInfo).port;
  return fake;
}

describe('backup prune: unfinished multipart uploads (AWS SDK against a store that lists them)', () => {
  const dir = mkdtempSync(join(tmpdir(), 'etcd-backup-unfinished-'));
  const recipient = generateIdentity().identity.recipient.text;
  const creds = join(dir, 's3.credentials');
  writeFileSync(creds, 'AWS_ACCESS_KEY_ID=K\nAWS_SECRET_ACCESS_KEY=S\n', { mode: 0o600 });
  after(() => rmSync(dir, { recursive: true, force: true }));

  function planFor(port: number): BackupPlan {
    const s3 = { endpoint: `http://127.0.0.1:${port}`, bucket: 'bkt', prefix: 'prod/', credentialsFile: creds, timeoutSeconds: 5 };
    const text = [
      'cluster: { name: prod, endpoints: [http://127.0.0.1:2379] }',
      `local: { dir: ${join(dir, 'local')}, keep: { last: 2 } }`,
      `remote: { s3: ${JSON.stringify(s3)}, keep: { last: 2 } }`,
      `encrypt: { recipients: [${recipient}] }`,
    ].join('\n');
    const { plan, problems } = parsePlan(text, join(dir, 'prod.yaml'));
    assert.deepStrictEqual(problems, []);
    return plan as BackupPlan;
  }

  for (const dryRun of [true, false]) {
    it(`${dryRun ? 'a dry run names' : 'a prune aborts'} this plan's uploads older than a day; younger and foreign ones stay`, async () => {
      const fake = await fakeS3('ok');
      try {
        const plan = planFor(fake.port);
        const store = await openS3Store(plan.remote!.s3);
        try {
          const r = await pruneRemote(plan, store, { now, dryRun });
          assert.deepStrictEqual(r.unfinished, { aborted: ['prod-20261130T000000Z.db.gz.age'], left: ['prod-20261202T110000Z.db.gz.age'] });
          assert.deepStrictEqual(fake.aborted, dryRun ? [] : ['/bkt/prod/prod-20261130T000000Z.db.gz.age old-ours']);
        } finally {
          store.close();
        }
      } finally {
        fake.server.close();
      }
    });
  }

  it('a store without ListMultipartUploads (s3rver answers NotImplemented): noted, not an error, nothing aborted', async () => {
    const fake = await fakeS3('notImplemented');
    try {
      const plan = planFor(fake.port);
      const store = await openS3Store(plan.remote!.s3);
      try {
        const r = await pruneRemote(plan, store, { now });
        assert.strictEqual(r.error, undefined);
        assert.deepStrictEqual(r.unfinished?.aborted, []);
        assert.match(r.unfinished?.note ?? '', /does not list unfinished uploads/);
        assert.deepStrictEqual(fake.aborted, []);
      } finally {
        store.close();
      }
    } finally {
      fake.server.close();
    }
  });
});
