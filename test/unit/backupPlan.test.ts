/**
 * Plan files: the example parses with its defaults; every mistake is one sentence
 * naming the field; private-file modes; the CLI's flag specs (util.parseArgs) and their help.
 */
import * as assert from 'assert';
import { chmodSync, mkdtempSync, rmSync, writeFileSync } from 'fs';
import { tmpdir } from 'os';
import { join } from 'path';
import { generateIdentity } from '../../src/core/backup/age';
import { parseBackupFileName, remoteSuffix } from '../../src/core/backup/catalog';
import { loadPlan, parsePlan, PlanError } from '../../src/core/backup/plan';
import { parseCredentials } from '../../src/core/backup/storeS3';
import { planUnits, systemdQuote } from '../../src/core/backup/units';
import { CommandSpec, helpText, parseCommand } from '../../src/cli/args';
import { CliUsageError } from '../../src/cli/types';

const recipient = generateIdentity().identity.recipient.text;

const EXAMPLE = `
cluster:
  name: prod
  endpoints: [https://10.0.0.11:2379, https://10.0.0.12:2379]
  tls: {
    caFile: /etc/kubernetes/pki/etcd/ca.crt,
    certFile: /etc/kubernetes/pki/etcd/healthcheck-client.crt,
    keyFile: /etc/kubernetes/pki/etcd/healthcheck-client.key,
  }
schedule: "*-*-* 00/6:00:00"
local:
  dir: /var/backups/etcd/prod
  keep: { last: 5 }
remote:
  s3:
    endpoint: https://minio.example:9000
    bucket: etcd-backups
    prefix: prod/
    region: us-east-1
    forcePathStyle: true
  keep: { last: 14, daily: 7, weekly: 4, monthly: 6 }
compress: gzip
encrypt:
  recipients: [${recipient}]
metricsFile: /var/lib/node_exporter/textfile_collector/etcd_backup_prod.prom
`;

describe('backup plan files', () => {
  it("parses the issue's example, with defaults", () => {
    const { plan, problems } = parsePlan(EXAMPLE, '/etc/etcd-backup/prod.yaml');
    assert.deepStrictEqual(problems, []);
    assert.ok(plan);
    assert.deepStrictEqual(plan.cluster.endpoints, ['https://10.0.0.11:2379', 'https://10.0.0.12:2379']);
    assert.deepStrictEqual(plan.remote?.keep, { last: 14, daily: 7, weekly: 4, monthly: 6 });
    assert.strictEqual(plan.remote?.s3.partSizeMiB, 8);
    assert.strictEqual(plan.compressLevel, 3, "gzip level 3: Node's level 1 is slower and larger on repetitive data");
    assert.strictEqual(plan.statusFile, '/var/backups/etcd/prod/.etcd-backup-prod.status.json');
    assert.strictEqual(plan.encrypt?.recipients[0].text, recipient);
    assert.strictEqual(remoteSuffix(plan), '.db.gz.age');
    assert.deepStrictEqual(parseBackupFileName(plan, 'prod-20261201T060000Z.db.gz.age')?.suffix, '.db.gz.age');
    assert.strictEqual(parseBackupFileName(plan, 'prod-2026-12-01.db'), undefined);
    assert.strictEqual(parseBackupFileName(plan, 'prodx-20261201T060000Z.db'), undefined);
  });

  it('says every problem in one sentence naming the field', () => {
    const text = EXAMPLE.replace('dir: /var/backups/etcd/prod', 'dir: backups')
      .replace('last: 14', 'last: -1')
      .replace('bucket: etcd-backups', 'bucket: Etcd_Backups')
      .replace(`[${recipient}]`, '[age1nope]')
      .replace('schedule: "*-*-* 00/6:00:00"', 'schedule: "*-*-* */6:00:00"')
      .concat('\nkeeep: 3\n');
    const { plan, problems } = parsePlan(text);
    assert.strictEqual(plan, undefined);
    const expect = [
      /local\.dir must be an absolute path/,
      /remote\.keep\.last must be a whole number from 0/,
      /remote\.s3\.bucket must be an S3 bucket name/,
      /encrypt\.recipients\[0\]: "age1nope" is not an age recipient/,
      /schedule .* systemd does not accept/,
      /unknown field "keeep"/,
    ];
    for (const re of expect) assert.ok(problems.some((p) => re.test(p)), `${re} in ${problems.join('\n')}`);
    assert.strictEqual(problems.length, expect.length);
  });

  it('a remote without encryption must say "encrypt: none"', () => {
    const text = EXAMPLE.replace(/encrypt:\n {2}recipients: \[.*\]\n/, '');
    assert.match(parsePlan(text).problems.join(), /encrypt is missing: copies that leave the node are encrypted/);
    assert.deepStrictEqual(parsePlan(`${text}encrypt: none\n`).problems, []);
  });

  it('refuses a plan or credentials file open to group or others, naming the chmod', async () => {
    const dir = mkdtempSync(join(tmpdir(), 'plan-'));
    try {
      const creds = join(dir, 's3');
      writeFileSync(creds, '[default]\naws_access_key_id = a\naws_secret_access_key = b\n', { mode: 0o644 });
      chmodSync(creds, 0o644);
      const plan = join(dir, 'plan.yaml');
      writeFileSync(plan, EXAMPLE.replace('forcePathStyle: true', `forcePathStyle: true\n    credentialsFile: ${creds}`), { mode: 0o640 });
      chmodSync(plan, 0o640);
      const err = await loadPlan(plan).then(() => undefined, (e: unknown) => e);
      assert.ok(err instanceof PlanError);
      assert.strictEqual(err.problems.length, 2);
      assert.match(err.problems[0], /The plan .* has mode 0640: .* Run: chmod 600/);
      assert.match(err.problems[1], /The S3 credentials file .* has mode 0644/);
      chmodSync(plan, 0o600);
      chmodSync(creds, 0o600);
      assert.strictEqual((await loadPlan(plan)).cluster.name, 'prod');
      await assert.rejects(loadPlan(join(dir, 'none.yaml')), /does not exist/);
    } finally {
      rmSync(dir, { recursive: true, force: true });
    }
  });

  it('reads credentials files in the AWS INI form and as KEY=VALUE lines', () => {
    assert.deepStrictEqual(parseCredentials('[default]\naws_access_key_id = AK\naws_secret_access_key = ' +
      'SK\n', 'f'), { accessKeyId: 'AK', secretAccessKey: 'SK' });
    assert.deepStrictEqual(
      parseCredentials('[backup]\naws_access_key_id=AK\naws_secret_access_key=SK\naws_session_token=T\n', 'f'),
      { accessKeyId: 'AK', secretAccessKey: 'SK', sessionToken: 'T' },
    );
    assert.deepStrictEqual(
      parseCredentials('export AWS_ACCESS_KEY_ID="AK"\nAWS_SECRET_ACCESS_KEY=SK\n', 'f'),
      { accessKeyId: 'AK', secretAccessKey: 'SK' },
    );
    assert.throws(() => parseCredentials('nothing', 'f'), /holds no aws_access_key_id/);
  });

  it('quotes ExecStart words as systemd reads them', () => {
    assert.strictEqual(systemdQuote('/usr/bin/node'), '/usr/bin/node');
    assert.strictEqual(systemdQuote('/etc/etcd backup/p%.yaml'), '"/etc/etcd backup/p%%.yaml"');
    const { plan } = parsePlan(EXAMPLE, '/etc/etcd-backup/prod.yaml');
    const u = planUnits(plan as NonNullable<typeof plan>, ['/usr/bin/node', '/opt/etcd-backup/dist/cli.js']);
    assert.match(
      u.service,
      /^ExecStart=\/usr\/bin\/node \/opt\/etcd-backup\/dist\/cli\.js backup run --config \/etc\/etcd-backup\/prod\.yaml$/m,
    );
    assert.match(u.timer, /^RandomizedDelaySec=900$/m);
  });
});

describe('CLI flag specs (util.parseArgs)', () => {
  const spec: CommandSpec = {
    name: 'backup demo',
    summary: 'a demo',
    options: {
      config: { type: 'string', value: 'FILE', help: 'the plan', required: true },
      'dry-run': { type: 'boolean', help: 'nothing' },
      'write-out': { type: 'string', short: 'w', value: 'F', help: 'format' },
    },
  };
  it('parses, refuses unknown flags and missing required ones, and prints help from the same spec', () => {
    assert.deepStrictEqual(
      { ...parseCommand(spec, ['--config', 'p.yaml', '--dry-run', '-w', 'json'])?.values },
      { config: 'p.yaml', 'dry-run': true, 'write-out': 'json' },
    );
    assert.throws(
      () => parseCommand(spec, ['--config', 'p', '--nope']),
      (e: Error) => e instanceof CliUsageError && /unknown flag --nope/.test(e.message),
    );
    assert.throws(() => parseCommand(spec, []), /--config FILE is required/);
    assert.throws(() => parseCommand(spec, ['--config', 'p', 'extra']), /unexpected argument "extra"/);
    assert.strictEqual(parseCommand(spec, ['--help']), undefined);
    const help = helpText(spec);
    for (const flag of ['--config FILE', '--dry-run', '-w, --write-out F', '(required)']) assert.ok(help.includes(flag), flag);
  });
});
