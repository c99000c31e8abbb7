/**
 * The etcd files operators really have (test/fixtures/etcdFiles/deploy-*, sources in the
 * README there): kubespray's host and docker units with their /etc/etcd.env, kubeasz, etcd's
 * contrib unit and sample config, Kubernetes the Hard Way, CentOS, OpenShift 3 and 4, rke2 and
 * k3s, GCE's JSON manifest, minikube, CoreOS etcd-member, podman and docker units. One block per
 * point of the issue "The etcd files operators really have", each through the CLI where the CLI
 * is what reads the other files (env files, config files), on copies in a temp folder.
 */
import * as assert from 'assert';
import { execFileSync } from 'child_process';
import { chmodSync, linkSync, mkdirSync, mkdtempSync, readdirSync, readFileSync, rmSync, statSync, writeFileSync } from 'fs';
import { tmpdir } from 'os';
import { join } from 'path';
import { manifestCommands } from '../../src/cli/manifest';
import { applyEdits, diagnoseEtcdFile, EditResult, parseEtcdFile, ParsedEtcdFile, setDataDir, setInitialClusterState } from '../../src/core/etcdFiles';
import { captureOutput } from '../support/captureOutput';

const fixtures = join(__dirname, '..', 'fixtures', 'etcdFiles');
const deployFixtures = readdirSync(fixtures).filter((f) => f.startsWith('deploy-'));

function read(f: string): string {
  return readFileSync(join(fixtures, f), 'utf8');
}

function parsed(f: string): ParsedEtcdFile {
  return parseEtcdFile(read(f), f);
}

function run(args: string[]): Promise<{ code: number; out: string; err: string }> {
  const [name, ...rest] = args;
  return captureOutput(() => manifestCommands[name].run(rest));
}

function error(r: EditResult): string {
  assert.ok(!r.ok, `expected a refusal, got ${JSON.stringify(r)}`);
  return r.error;
}

function changed(p: ParsedEtcdFile, r: EditResult): string[] {
  assert.ok(r.ok, r.ok ? '' : r.error);
  const after = applyEdits(p.text, r.edits).split('\n');
  const before = p.text.split('\n');
  return after.filter((l, i) => l !== before[i]);
}

describe('etcd files operators really have', () => {
  let dir: string;
  beforeEach(() => {
    dir = mkdtempSync(join(tmpdir(), 'etcd-backup-deploy-'));
  });
  afterEach(() => rmSync(dir, { recursive: true, force: true }));

  /** A fixture copied into the temp folder with its node paths moved there. */
  const place = (f: string, replace: [string, string][] = [], name = f): string => {
    let t = read(f);
    for (const [from, to] of replace) t = t.split(from).join(to);
    const p = join(dir, name);
    writeFileSync(p, t, { mode: 0o600 });
    return p;
  };

  describe('1. an EnvironmentFile= that cannot be read is never taken as empty', () => {
    it('kubespray host unit, /etc/etcd.env missing here: set-data-dir and set-initial-cluster-state refuse, naming the file', async () => {
      const env = join(dir, 'etcd.env');
      const unit = place('deploy-kubespray-host.service', [['/etc/etcd.env', env]]);
      const before = readFileSync(unit, 'utf8');
      for (const args of [['set-data-dir', unit, '/var/lib/etcd-restored', '--write'], ['set-initial-cluster-state', unit, 'existing', '--write']]) {
        const r = await run(args);
        assert.strictEqual(r.code, 1, r.out);
        assert.strictEqual(r.out, '');
        assert.ok(r.err.includes(`The unit reads ${env} (EnvironmentFile=), which cannot be read here (it does not exist on this machine)`), r.err);
      }
      assert.strictEqual(readFileSync(unit, 'utf8'), before);
      const c = await run(['check', unit]);
      assert.ok(c.out.includes(`note: ${env}, which etcd's unit reads, cannot be read here (it does not exist on this machine); what it sets was not checked.`), c.out);
    });

    it('the env file is a FIFO: refused as not a regular file, without blocking; present and readable: the variable wins', async function () {
      this.timeout(10000);
      const env = join(dir, 'etcd.env');
      execFileSync('mkfifo', [env]);
      const unit = place('deploy-kubespray-host.service', [['/etc/etcd.env', env]]);
      const r = await run(['set-data-dir', unit, '/var/lib/etcd-restored']);
      assert.strictEqual(r.code, 1);
      assert.match(r.err, /which cannot be read here \(.*is a named pipe \(FIFO\), not a regular file/);
      rmSync(env);
      writeFileSync(env, read('deploy-kubespray-etcd.env'));
      const ok = await run(['set-data-dir', unit, '/var/lib/etcd-restored']);
      assert.strictEqual(ok.code, 1);
      assert.match(ok.err, /ETCD_DATA_DIR is set in .*etcd\.env, which the unit reads \(EnvironmentFile=\): change it there/);
    });
  });

  describe('2. a unit that runs etcd in a container: the data dir is a path inside it', () => {
    it('kubespray docker unit: the env file is refused with the volume named; the unit moves the host side of -v', async () => {
      const env = place('deploy-kubespray-etcd.env', [], 'etcd.env');
      const unit = place('deploy-kubespray-docker.service', [['/etc/etcd.env', env]]);
      const e = await run(['set-data-dir', env, '/var/lib/etcd-restored', '--unit', unit]);
      assert.strictEqual(e.code, 1);
      assert.ok(e.err.includes('runs etcd in a container (docker run): ETCD_DATA_DIR is a path inside it, on the volume /var/lib/etcd:/var/lib/etcd'), e.err);
      const u = await run(['set-data-dir', unit, '/var/lib/etcd-restored']);
      assert.strictEqual(u.code, 0, u.err);
      assert.deepStrictEqual(u.out.split('\n').filter((l) => /^[-+]/.test(l) && !/^(---|\+\+\+) /.test(l)), ['--v /var/lib/etcd:/var/lib/etcd:rw \\', '+-v /var/lib/etcd-restored:/var/lib/etcd:rw \\']);
    });

    it('podman unit with --volume and flags after the image; docker --mount; advice for a container without flags', () => {
      const p = parsed('deploy-podman-etcd.service');
      assert.deepStrictEqual(changed(p, setDataDir(p, '/var/lib/etcd-restored')), ['\t--volume /var/lib/etcd-restored:/var/lib/etcd:Z \\']);
      const d = parsed('deploy-docker-mount-etcd.service');
      assert.deepStrictEqual(changed(d, setDataDir(d, '/srv/etcd')), ['  --mount type=bind,source=/srv/etcd,destination=/etcd-data \\']);
      const noFlags = parseEtcdFile(read('deploy-kubespray-docker.service').replace(' \\\n/usr/local/bin/etcd', ''), 'x.service');
      assert.match(error(setInitialClusterState(noFlags, 'existing', { related: [parsed('deploy-kubespray-etcd.env')] })), /etcd runs in a container here \(docker run quay\.io\/coreos\/etcd:v3\.5\.16\) and this line passes it no etcd flags: set ETCD_INITIAL_CLUSTER_STATE in \/etc\/etcd\.env/);
    });
  });

  describe('3. --config-file: etcd ignores every other flag, so the config file is what gets edited', () => {
    const rke2 = (): { pod: string; config: string } => {
      const db = join(dir, 'db', 'etcd');
      mkdirSync(db, { recursive: true });
      const config = join(db, 'config');
      writeFileSync(config, read('deploy-rke2-etcd-config.yaml'));
      // the Pod's data volume points at the temp folder (the config file is inside it, as in rke2)
      const pod = place('deploy-rke2-etcd.yaml', [['      path: /var/lib/rancher/rke2/server/db/etcd\n', `      path: ${db}\n`]]);
      return { pod, config };
    };

    it('set-initial-cluster-state on the rke2 Pod edits the config file on the node, not the Pod', async () => {
      const { pod, config } = rke2();
      const podBefore = readFileSync(pod, 'utf8');
      const r = await run(['set-initial-cluster-state', pod, 'existing', '--write']);
      assert.strictEqual(r.code, 0, r.err);
      assert.ok(r.err.includes(`starts etcd with the config file ${config}`), r.err);
      assert.ok(r.out.includes('-initial-cluster-state: new\n+initial-cluster-state: existing\n'), r.out);
      assert.strictEqual(readFileSync(pod, 'utf8'), podBefore);
      assert.ok(readFileSync(config, 'utf8').includes('initial-cluster-state: existing\n'));
    });

    it('set-data-dir on the rke2 Pod refuses with the true reason (its config file sits in the data volume); without the file, naming it', async () => {
      const { pod, config } = rke2();
      const r = await run(['set-data-dir', pod, '/var/lib/etcd-restored']);
      assert.strictEqual(r.code, 1, r.out);
      assert.ok(r.err.includes('The mount at /var/lib/rancher/rke2/server/db/etcd also holds --config-file (/var/lib/rancher/rke2/server/db/etcd/config)'), r.err);
      rmSync(config);
      const gone = await run(['set-data-dir', pod, '/var/lib/etcd-restored']);
      assert.strictEqual(gone.code, 1);
      assert.ok(gone.err.includes(`--config-file /var/lib/rancher/rke2/server/db/etcd/config (on the node: ${config})`), gone.err);
      assert.ok(gone.err.includes('cannot be read here (it does not exist on this machine)'), gone.err);
      assert.ok(!/<name>\.etcd/.test(gone.err), gone.err);
    });

    it("set-data-dir on a Pod whose config file has its own volume moves the hostPath under the config's data-dir", async () => {
      const conf = join(dir, 'conf');
      mkdirSync(conf);
      writeFileSync(join(conf, 'etcd.yml'), read('deploy-etcd35-hardened.conf.yml'));
      const pod = join(dir, 'etcd.yaml');
      writeFileSync(pod, [
        'apiVersion: v1', 'kind: Pod', 'metadata:', '  name: etcd', 'spec:', '  containers:', '  - name: etcd',
        '    image: registry.k8s.io/etcd:3.5.15-0', '    command: [etcd, --config-file=/etc/etcd/etcd.yml]', '    volumeMounts:',
        '    - {name: conf, mountPath: /etc/etcd, readOnly: true}', '    - {name: data, mountPath: /var/lib/etcd}', '  volumes:',
        `  - {name: conf, hostPath: {path: ${conf}}}`, '  - name: data', '    hostPath:', '      path: /var/lib/etcd   # the data disk', '',
      ].join('\n'));
      const r = await run(['set-data-dir', pod, '/var/lib/etcd-restored']);
      assert.strictEqual(r.code, 0, r.err);
      assert.deepStrictEqual(r.out.split('\n').filter((l) => /^[-+] /.test(l)), ['-      path: /var/lib/etcd   # the data disk', '+      path: /var/lib/etcd-restored   # the data disk']);
    });

    it('a unit started with --config-file: set-data-dir edits data-dir: of that file', async () => {
      const conf = place('deploy-etcd35-hardened.conf.yml', [], 'etcd.conf.yml');
      const unit = join(dir, 'etcd.service');
      writeFileSync(unit, `[Service]\nExecStart=/usr/local/bin/etcd --config-file ${conf}\n`);
      const r = await run(['set-data-dir', unit, '/var/lib/etcd-restored']);
      assert.strictEqual(r.code, 0, r.err);
      assert.ok(r.out.startsWith(`--- ${conf}\n`), r.out);
      assert.ok(r.out.includes('+data-dir: /var/lib/etcd-restored\n'));
    });
  });

  describe('4. a WAL dir apart from the data dir is never left behind', () => {
    it('--wal-dir, ETCD_WAL_DIR, wal-dir: refuse set-data-dir and say why; an empty wal-dir: does not', () => {
      assert.match(error(setDataDir(parsed('deploy-wal-dir.service'), '/var/lib/etcd-restored')), /^--wal-dir \/mnt\/wal-ssd\/etcd is set: etcd keeps its WAL there, apart from the data dir/);
      const env = parseEtcdFile(`${read('deploy-kubespray-etcd.env')}ETCD_WAL_DIR=/var/lib/etcd-wal\n`, 'etcd.env');
      assert.match(error(setDataDir(env, '/x')), /ETCD_WAL_DIR \/var\/lib\/etcd-wal is set/);
      const unit = parsed('deploy-kubespray-host.service');
      assert.match(error(setDataDir(unit, '/x', { related: [env] })), /ETCD_WAL_DIR \/var\/lib\/etcd-wal is set in etcd\.env/);
      const conf = parseEtcdFile(read('deploy-etcd35-hardened.conf.yml').replace('data-dir: /var/lib/etcd\n', 'data-dir: /var/lib/etcd\nwal-dir: /var/lib/etcd-wal\n'), 'c.yml');
      assert.match(error(setDataDir(conf, '/x')), /^wal-dir: is set|^wal-dir \/var\/lib\/etcd-wal is set/);
      assert.ok(setDataDir(parsed('deploy-etcd-conf-yml-sample.yml'), '/x').ok);
    });
  });

  describe('5. Pods that run etcd through a shell are recognised', () => {
    for (const f of ['deploy-openshift3-master-etcd.yaml', 'deploy-openshift4-etcd-pod.yaml', 'deploy-gce-etcd.manifest']) {
      it(`${f}: check exits 0 and says so once; edits are refused with that reason`, async () => {
        const p = place(f);
        const r = await run(['check', p]);
        assert.strictEqual(r.code, 0, r.out);
        assert.strictEqual(r.out.match(/etcd runs through a shell/g)?.length, 1, r.out);
        assert.ok(!/no container that runs etcd/.test(r.out));
        const e = await run(['set-data-dir', p, '/var/lib/etcd-restored']);
        assert.strictEqual(e.code, 1);
        assert.match(e.err, /not edited: etcd runs through a shell script here \(\/bin\/sh -c\)/);
      });
    }

    it('OpenShift 3: the sourced env file is named, with its path on the node', () => {
      const p = parsed('deploy-openshift3-master-etcd.yaml');
      assert.match(p.problems[0].message, /It reads \/etc\/etcd\/etcd\.conf \(source\): change etcd's settings there\.$/);
    });
  });

  describe('6. keys and flags per etcd release, and variables meant for a wrapper', () => {
    it("etcd 3.5's config keys (allowed-cn, allowed-hostname, socket-options) are known; the release is said when a key is not", () => {
      const d = diagnoseEtcdFile(parsed('deploy-etcd35-hardened.conf.yml'));
      assert.deepStrictEqual(d.filter((x) => x.code === 'unknown-key'), []);
      const old = parseEtcdFile(`# etcd 3.4\n${read('deploy-etcd35-hardened.conf.yml')}`, 'c.yml');
      old.etcdVersion = '3.4';
      old.etcdVersionSource = 'test';
      const d34 = diagnoseEtcdFile(old).filter((x) => x.code === 'unknown-key').map((x) => x.message);
      assert.ok(d34.some((m) => m.startsWith('"socket-options" is not a key of etcd 3.4 (test)\'s config file (it is one of etcd 3.5 or 3.6)')), d34.join('\n'));
    });

    it('a flag 3.6 removed is an error on a 3.6 image, with the release named; no warning without a release', () => {
      const pod = read('deploy-minikube-etcd.yaml');
      assert.deepStrictEqual(diagnoseEtcdFile(parseEtcdFile(pod, 'etcd.yaml')).filter((x) => x.code === 'unknown-flag'), []);
      const d = diagnoseEtcdFile(parseEtcdFile(pod.replace('etcd:3.5.12-0', 'etcd:3.6.4-0'), 'etcd.yaml')).filter((x) => x.code === 'unknown-flag');
      assert.deepStrictEqual(
        d.map((x) => x.message),
        ['--proxy-refresh-interval is not a flag of etcd 3.6 (the image registry.k8s.io/etcd:3.6.4-0) (it is one of etcd 3.4 or 3.5): etcd exits at start ("flag provided but not defined: --proxy-refresh-interval").'],
      );
    });

    it("CoreOS etcd-member: ETCD_IMAGE_TAG, ETCD_USER, ETCD_SSL_DIR are the wrapper's, not warned about; the wrapper's flags are etcd's", () => {
      const p = parsed('deploy-coreos-etcd-member.service');
      assert.strictEqual(p.launcher?.kind, 'etcd-wrapper');
      assert.strictEqual(p.etcdVersion, '3.4');
      assert.deepStrictEqual(diagnoseEtcdFile(p).filter((x) => x.severity !== 'hint'), []);
      assert.deepStrictEqual(changed(p, setDataDir(p, '/var/lib/etcd-restored')), ['Environment="ETCD_DATA_DIR=/var/lib/etcd-restored"']);
    });
  });

  describe('7. empty values, shells and wrappers', () => {
    it("etcd's sample config: an empty data-dir: gets its value after the colon", () => {
      const p = parsed('deploy-etcd-conf-yml-sample.yml');
      assert.deepStrictEqual(changed(p, setDataDir(p, '/var/lib/etcd-restored')), ['data-dir: /var/lib/etcd-restored']);
    });

    it('CentOS bash -c unit: refused, naming the variables and the EnvironmentFile to change instead; the env file with --unit is edited', async () => {
      const p = parsed('deploy-centos7-etcd.service');
      assert.match(error(setDataDir(p, '/x')), /etcd runs through a shell script here \(\/bin\/bash -c\).* It passes ETCD_NAME, ETCD_DATA_DIR and ETCD_LISTEN_CLIENT_URLS from \/etc\/etcd\/etcd\.conf \(EnvironmentFile=\): change them there\.$/);
      const env = place('deploy-centos7-etcd.conf', [], 'etcd.conf');
      const unit = place('deploy-centos7-etcd.service', [['/etc/etcd/etcd.conf', env]]);
      const r = await run(['set-data-dir', env, '/var/lib/etcd-restored', '--unit', unit]);
      assert.strictEqual(r.code, 0, r.err);
      assert.ok(r.out.includes('+ETCD_DATA_DIR="/var/lib/etcd-restored"\n'), r.out);
    });

    it('a unit whose ExecStart= runs something else says what it runs and where to set the variable', () => {
      const p = parseEtcdFile('[Service]\nEnvironmentFile=/etc/default/etcd\nExecStart=/usr/local/sbin/start-etcd.py\n', 'etcd.service');
      assert.strictEqual(error(setInitialClusterState(p, 'existing')), 'ExecStart= runs /usr/local/sbin/start-etcd.py, not etcd, so there is no etcd command line here to edit: set ETCD_INITIAL_CLUSTER_STATE in /etc/default/etcd (EnvironmentFile=).');
    });
  });

  describe('issue 9: what the etcd-file side must refuse', () => {
    it('a FIFO, a device and a huge file given as the file: one sentence each, at once', async function () {
      this.timeout(10000);
      const fifo = join(dir, 'etcd.yaml');
      execFileSync('mkfifo', [fifo]);
      await assert.rejects(run(['check', fifo]), /etcd\.yaml is a named pipe \(FIFO\), not a regular file; give the file itself\.$/);
      await assert.rejects(run(['check', '/dev/urandom']), /^EtcdBackupError: \/dev\/urandom is a device, not a regular file/);
      const big = join(dir, 'big.yaml');
      writeFileSync(big, `kind: Pod\nmetadata:\n  annotations:\n    a: "${'x'.repeat(2 * 1024 * 1024)}"\n`);
      await assert.rejects(run(['check', big]), /big\.yaml is 2\.0 MiB; no etcd manifest, env, config or unit file is over 1 MiB/);
    });

    it('a 600k-line text is refused as too large, never a stack overflow; a 20k-line manifest reads in linear time', function () {
      this.timeout(30000);
      const huge = `kind: Pod\nspec:\n  containers:\n  - name: etcd\n    command:\n    - etcd\n${'    - --snapshot-count=1\n'.repeat(600000)}`;
      const p = parseEtcdFile(huge, 'etcd.yaml');
      assert.strictEqual(p.problems[0].code, 'too-large');
      assert.ok(!setDataDir(p, '/x').ok);
      const t0 = Date.now();
      const big = parseEtcdFile(`kind: Pod\nspec:\n  containers:\n  - name: etcd\n    command:\n    - etcd\n${'    - --snapshot-count=1\n'.repeat(20000)}`, 'etcd.yaml');
      diagnoseEtcdFile(big);
      assert.strictEqual(big.kind, 'manifest');
      assert.ok(Date.now() - t0 < 20000, `${Date.now() - t0} ms`);
    });

    it('a Pod that sets ETCD_DATA_DIR in env: set-data-dir moves the variable, the mount and the hostPath, keeping the comment', () => {
      const p = parsed('deploy-pod-env-data-dir.yaml');
      assert.deepStrictEqual(changed(p, setDataDir(p, '/var/lib/etcd-restored')), [
        '      value: /var/lib/etcd-restored   # on the node\'s disk',
        '      mountPath: /var/lib/etcd-restored',
        '      path: /var/lib/etcd-restored',
      ]);
    });

    it('two etcd containers, two etcd Pods, a data volume shared with a sidecar: refused with a sentence', () => {
      assert.match(error(setDataDir(parsed('deploy-two-etcd-containers.yaml'), '/x')), /2 containers of the Pod run etcd \(etcd-main, etcd-events\): only the first \("etcd-main"\) is checked, and edits are refused/);
      assert.match(error(setInitialClusterState(parsed('deploy-two-pods.yaml'), 'existing')), /2 Pods in this file run etcd/);
      assert.match(error(setDataDir(parsed('deploy-backup-sidecar.yaml'), '/x')), /The volume "etcd-data" that holds the data dir is also mounted by the container "backup" \(at \/data\)/);
      assert.ok(setInitialClusterState(parsed('deploy-backup-sidecar.yaml'), 'existing').ok, 'a flag of the etcd container is still its own');
    });

    it('--write on a read-only file and on a hard-linked file: refused, nothing written', async () => {
      const ro = place('deploy-minikube-etcd.yaml', [], 'etcd.yaml');
      chmodSync(ro, 0o444);
      const before = readFileSync(ro, 'utf8');
      const r = await run(['set-initial-cluster-state', ro, 'existing', '--write']).catch((e: Error) => ({ code: 1, out: '', err: e.message }));
      assert.match(r.err, /etcd\.yaml is read-only \(mode 0444\); nothing was written/);
      assert.strictEqual(readFileSync(ro, 'utf8'), before);
      const f = place('deploy-kthw.service', [], 'etcd.service');
      linkSync(f, join(dir, 'etcd.service.bak'));
      const h = await run(['set-initial-cluster-state', f, 'existing', '--write']).catch((e: Error) => ({ code: 1, out: '', err: e.message }));
      assert.match(h.err, /etcd\.service has 2 hard links; writing it through a new file would leave the other 1 with the old text, so nothing was written/);
      assert.strictEqual(statSync(f).nlink, 2);
      assert.strictEqual(readFileSync(f, 'utf8'), read('deploy-kthw.service'));
      assert.deepStrictEqual(readdirSync(dir).sort(), ['etcd.service', 'etcd.service.bak', 'etcd.yaml'], 'no temp file left');
    });
  });

  it('manifest check on every deployment fixture: exit 0, and nothing but notes and hints (these set-ups start)', async () => {
    assert.ok(deployFixtures.length >= 24, `${deployFixtures.length} fixtures`);
    for (const f of deployFixtures) {
      const r = await run(['check', join(fixtures, f)]);
      const loud = r.out.split('\n').filter((l) => /: (error|warning): /.test(l));
      const expected = f === 'deploy-two-etcd-containers.yaml' || f === 'deploy-two-pods.yaml' ? 1 : 0;
      assert.strictEqual(loud.length, expected, `${f}:\n${r.out}`);
      assert.strictEqual(r.code, 0, `${f}:\n${r.out}`);
    }
  });
});
