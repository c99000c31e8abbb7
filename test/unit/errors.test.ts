import * as assert from 'assert';
import { explain, EtcdBackupError } from '../../src/core/errors';

function sysErr(code: string, path?: string): NodeJS.ErrnoException {
  const e = new Error(`${code}: failure`) as NodeJS.ErrnoException;
  e.code = code;
  if (path) e.path = path;
  return e;
}

describe('error sentences', () => {
  const cases: Array<[string, unknown, string, RegExp]> = [
    ['gRPC UNAVAILABLE', Object.assign(new Error('14 UNAVAILABLE: No connection established'), { code: 14 }), 'unreachable', /Cannot connect to https:\/\/h:2379/],
    ['refused socket', sysErr('ECONNREFUSED'), 'unreachable', /etcd is running/],
    ['deadline', Object.assign(new Error('4 DEADLINE_EXCEEDED: Deadline exceeded'), { code: 4 }), 'timeout', /before the deadline/],
    ['TLS', new Error('14 UNAVAILABLE: ... SSL routines:ssl3_read_bytes:tlsv1 alert unknown ca'), 'tls', /TLS handshake/],
    ['auth', new Error('etcdserver: authentication failed, invalid user ID or password'), 'auth', /Check the user name and password/],
    ['permission', Object.assign(new Error('7 PERMISSION_DENIED: etcdserver: permission denied'), { code: 7 }), 'permission', /lacks the role/],
    ['missing file', sysErr('ENOENT', '/etc/kubernetes/pki/etcd/ca.crt'), 'notFound', /\/etc\/kubernetes\/pki\/etcd\/ca.crt/],
    ['disk full', sysErr('ENOSPC'), 'diskFull', /disk is full/],
    ['file too big', sysErr('EFBIG'), 'diskFull', /file-size limit/],
    ['no leader', new Error('etcdserver: no leader'), 'noQuorum', /quorum is lost/],
  ];
  for (const [label, err, kind, re] of cases) {
    it(`${label} -> ${kind}`, () => {
      const e = explain(err, 'https://h:2379');
      assert.ok(e instanceof EtcdBackupError);
      assert.strictEqual(e.kind, kind);
      assert.match(e.message, re);
      assert.strictEqual(e.message.split('\n').length, 1, 'one sentence, one line');
      assert.strictEqual(e.cause, err);
    });
  }

  it('passes an EtcdBackupError through unchanged', () => {
    const e = new EtcdBackupError('corrupt', 'The snapshot is truncated.');
    assert.strictEqual(explain(e), e);
  });

  it('keeps only the first line of an unknown error', () => {
    const e = explain(new Error('something odd\n    at stack'));
    assert.strictEqual(e.kind, 'internal');
    assert.strictEqual(e.message, 'something odd');
  });
});
