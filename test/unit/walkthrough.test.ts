/**
 * The first-run walkthrough (package.json contributes.walkthroughs): every step's media exists and
 * ships in the VSIX (.vscodeignore), every command its buttons run and its completion events wait
 * for is a command the extension declares (and the activation test checks they are registered).
 */
import * as assert from 'assert';
import { existsSync, readFileSync } from 'fs';
import { join } from 'path';

const root = join(__dirname, '..', '..');
const pkg = JSON.parse(readFileSync(join(root, 'package.json'), 'utf8')) as {
  contributes: {
    commands: { command: string }[];
    walkthroughs: {
      id: string;
      title: string;
      steps: { id: string; title: string; description: string; media: Record<string, string | Record<string, string>>; completionEvents?: string[] }[];
    }[];
  };
};

describe('walkthrough "Back up your first etcd cluster"', () => {
  const declared = new Set(pkg.contributes.commands.map((c) => c.command));
  const walkthrough = pkg.contributes.walkthroughs?.find((w) => w.title === 'Back up your first etcd cluster');

  it('is contributed, with the steps import → snapshot + verify → schedule → trial restore', () => {
    assert.ok(walkthrough, 'no walkthrough "Back up your first etcd cluster" in package.json');
    assert.deepStrictEqual(
      walkthrough.steps.map((s) => s.id),
      ['import', 'snapshot', 'schedule', 'trialRestore'],
    );
  });

  it("every step's media file exists and the VSIX allow-list ships it", () => {
    const ignore = readFileSync(join(root, '.vscodeignore'), 'utf8');
    for (const s of walkthrough?.steps ?? []) {
      const files = Object.values(s.media).flatMap((v) => (typeof v === 'string' ? [v] : Object.values(v)));
      assert.ok(files.length, `${s.id} has no media`);
      for (const f of files) {
        assert.ok(existsSync(join(root, f)), `${s.id}: ${f} does not exist`);
        assert.ok(/^!media\/walkthrough\/\*\.md$/m.test(ignore) && f.startsWith('media/walkthrough/') && f.endsWith('.md'), `${f} is not shipped`);
      }
    }
  });

  it('every command a step runs or completes on is declared; each step completes on a real command', () => {
    for (const s of walkthrough?.steps ?? []) {
      const links = [...s.description.matchAll(/\(command:([\w.]+)\)/g)].map((m) => m[1]);
      const events = (s.completionEvents ?? []).map((e) => /^onCommand:(.+)$/.exec(e)?.[1]);
      assert.ok(links.length, `${s.id} offers no command button`);
      assert.ok(events.length && events.every(Boolean), `${s.id}: completion events must be onCommand: ${JSON.stringify(s.completionEvents)}`);
      for (const c of [...links, ...events]) assert.ok(c && declared.has(c), `${s.id}: ${c} is not a declared command`);
    }
  });
});
