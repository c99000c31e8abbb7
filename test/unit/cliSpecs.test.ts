/**
 * Every subcommand of `etcd-backup` parses and prints `--help` from one spec (src/cli/args.ts):
 * this walks each group's table and each spec, and runs main() in a child (./cliDriver) to see
 * what a user sees: `--help` exits 0 and its usage line names every flag the spec accepts; an
 * unknown flag and a flag without its value exit 2 with one sentence naming the flag and
 * pointing at `--help`.
 */
import * as assert from 'assert';
import { groups } from '../../src/cli';
import { parseCommand } from '../../src/cli/args';
import { backupCommands } from '../../src/cli/backup';
import { manifestCommands } from '../../src/cli/manifest';
import { snapshotCommands } from '../../src/cli/snapshot';
import { CliUsageError } from '../../src/cli/types';
import type { CliCommand, CommandSpec } from '../../src/cli/types';
import { runCli } from '../support/cliDriver';

const tables: Record<string, Record<string, CliCommand>> = { snapshot: snapshotCommands, manifest: manifestCommands, backup: backupCommands };

/** `--to`, not `--to-time`: a flag named in a text, whole. */
const names = (text: string, flag: string): boolean => new RegExp(`(^|[\\s\\[(,])${flag.replace(/[[\]]/g, '\\$&')}(?![\\w-])`).test(text);

/** The synopsis of each spec in a help text: from each "Usage:" to the blank line after it. */
const synopses = (help: string): string[] => help.split(/^Usage: /m).slice(1).map((u) => u.split('\n\n')[0]);

describe('CLI: every subcommand from its spec', function () {
  this.timeout(240_000);

  const all = Object.entries(tables).flatMap(([group, table]) => Object.entries(table).map(([name, cmd]) => ({ group, name, cmd })));

  it('walks every group main() knows', () => {
    assert.deepStrictEqual(Object.keys(groups).sort(), Object.keys(tables).sort());
    for (const { group, name, cmd } of all) {
      assert.ok(cmd.specs.length > 0, `${group} ${name} has no spec`);
      for (const spec of cmd.specs) assert.strictEqual(spec.name, `${group} ${name}`);
    }
  });

  it('--help exits 0 and its usage names every flag; an unknown flag or a missing value exits 2 naming the flag and --help', async () => {
    const runs: { what: string; argv: string[]; check: (r: { code: number | null; stdout: string; stderr: string }) => void }[] = [];
    for (const { group, name, cmd } of all) {
      const what = `${group} ${name}`;
      runs.push({
        what: `${what} --help`,
        argv: [group, name, '--help'],
        check: (r) => {
          assert.strictEqual(r.code, 0, r.stderr);
          assert.strictEqual(r.stderr, '');
          const usage = synopses(r.stdout);
          assert.strictEqual(usage.length, cmd.specs.length, r.stdout);
          cmd.specs.forEach((spec: CommandSpec, i) => {
            assert.ok(usage[i].startsWith(`etcd-backup ${spec.name}`), usage[i]);
            if (spec.positionals) assert.ok(usage[i].includes(spec.positionals.usage), `${spec.positionals.usage} in ${usage[i]}`);
            for (const [flag, o] of Object.entries(spec.options)) {
              assert.ok(names(usage[i], o.short ? `-${o.short}` : `--${flag}`), `${flag} in the usage line of ${what}:\n${usage[i]}`);
              assert.ok(names(r.stdout, `--${flag}`), `--${flag} in the help of ${what}`);
              if (o.alias) assert.ok(names(r.stdout, `--${o.alias}`), `--${o.alias} in the help of ${what}`);
            }
          });
        },
      });
      runs.push({
        what: `${what} --no-such-flag`,
        argv: [group, name, '--no-such-flag'],
        check: (r) => {
          assert.strictEqual(r.code, 2, r.stderr);
          assert.strictEqual(r.stdout, '');
          assert.strictEqual(r.stderr, `etcd-backup ${what}: unknown flag --no-such-flag. Run \`etcd-backup ${what} --help\`.\n`);
        },
      });
      for (const spec of cmd.specs) {
        for (const [flag, o] of Object.entries(spec.options)) {
          if (o.type !== 'string') continue;
          runs.push({
            what: `${what} --${flag}`,
            argv: [group, name, `--${flag}`],
            check: (r) => {
              assert.strictEqual(r.code, 2, r.stderr);
              assert.strictEqual(r.stderr, `etcd-backup ${what}: --${flag} needs a value. Run \`etcd-backup ${what} --help\`.\n`);
            },
          });
        }
      }
    }
    const results = await runCli(runs.map((r) => r.argv));
    const failures: string[] = [];
    results.forEach((r, i) => {
      try {
        assert.ok(!r.hung, 'hung');
        runs[i].check(r);
      } catch (err) {
        failures.push(`${runs[i].what}: ${(err as Error).message}`);
      }
    });
    assert.deepStrictEqual(failures, []);
  });

  it('parses as the hand-written parser did: aliases, --flag=false, a value starting with a dash; required flags in order', () => {
    const spec: CommandSpec = {
      name: 'demo',
      summary: 'a demo',
      positionals: { usage: '<file>', min: 1, max: 1, sentence: 'give one file.' },
      options: {
        endpoints: { type: 'string', alias: 'endpoint', value: 'URL', help: 'u' },
        password: { type: 'string', value: 'P', help: 'p' },
        write: { type: 'boolean', help: 'w' },
        name: { type: 'string', value: 'N', help: 'n', required: true },
        dir: { type: 'string', value: 'D', help: 'd', required: true },
        token: { type: 'string', value: 'T', help: 't', required: true, ifMissing: () => 'give a token, e.g. --token t-1.' },
      },
    };
    const ok = ['f', '--name', 'n', '--dir', 'd', '--token', 't'];
    assert.deepStrictEqual(parseCommand(spec, [...ok, '--endpoint=http://a:1', '--password', '-x-', '--write=false'])?.values, {
      name: 'n',
      dir: 'd',
      token: 't',
      endpoints: 'http://a:1',
      password: '-x-',
      write: false,
    });
    const refusal = (args: string[]): string => {
      try {
        parseCommand(spec, args);
      } catch (err) {
        assert.ok(err instanceof CliUsageError);
        return err.message;
      }
      return assert.fail(`no refusal for ${args.join(' ')}`);
    };
    assert.strictEqual(refusal(['f', '--token', 't']), 'missing --name, --dir. Run `etcd-backup demo --help`.');
    assert.strictEqual(refusal(['f', '--name', 'n', '--dir=']), '--dir D is required. Run `etcd-backup demo --help`.');
    assert.strictEqual(refusal(['f', '--name', 'n', '--dir', 'd']), 'give a token, e.g. --token t-1.');
    assert.strictEqual(refusal([...ok, 'g']), 'give one file. Run `etcd-backup demo --help`.');
    assert.strictEqual(refusal([...ok, '-xyz']), 'unknown flag -xyz. Run `etcd-backup demo --help`.');
    assert.strictEqual(refusal([...ok, '--nope=1']), 'unknown flag --nope. Run `etcd-backup demo --help`.');
    assert.strictEqual(refusal([...ok, '--password']), '--password needs a value. Run `etcd-backup demo --help`.');
    assert.strictEqual(parseCommand(spec, ['--nope', '-h']), undefined, 'help wins');
    assert.deepStrictEqual(parseCommand(spec, [...ok.slice(1), '--', '--help'])?.positionals, ['--help']);
  });
});
