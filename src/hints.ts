/**
 * The VS Code side's words for what core says the user can do next (core/errors `Hint`): the
 * settings, command titles and tree actions of this extension. No `vscode` import, so unit
 * tests can read them; the CLI has its own words (src/cli/hintWords.ts).
 */
import type { ClusterOverview, ProbeError } from './core/clusterStatus';
import { clusterSummary } from './core/clusterStatus';
import { withHint } from './core/errors';
import type { EtcdBackupError, HintWords } from './core/errors';

export const vscodeHintWords: HintWords = (hint) => {
  switch (hint.kind) {
    case 'toolPath': {
      const settings = hint.tools.map((t) => `etcdBackup.${t}Path`).join(' / ');
      return hint.configured ? `fix the setting ${settings} or clear it to use ${hint.tools.join(' / ')} from PATH` : `or set ${settings}`;
    }
    case 'reclaimSpace':
      return hint.brief
        ? 'run Compact and Defragment…'
        : 'run "etcd: Compact and Defragment…" on the cluster (compacts, defragments each member, disarms the alarm)';
    case 'listMembers':
      return 'refresh the tree and pick one from the list';
    case 'promoteLearner':
      return `then promote it from the tree (Promote Learner on ${hint.memberId})`;
  }
};

/** The sentence a person sees in VS Code for an error (its hint in this extension's words). */
export function errorText(err: EtcdBackupError): string {
  return withHint(err.message, err.hint, vscodeHintWords);
}

/** A cluster's one-glance summary in this extension's words. */
export function summaryOf(o: ClusterOverview): string {
  return clusterSummary(o, vscodeHintWords);
}

/** The overview with every error's hint worded for VS Code (the tree, its tooltips and the commands show these). */
export function wordOverview(o: ClusterOverview): ClusterOverview {
  const word = (e: ProbeError | undefined): ProbeError | undefined =>
    e?.hint ? { ...e, message: withHint(e.message, e.hint, vscodeHintWords), hint: undefined } : e;
  return {
    ...o,
    error: word(o.error),
    members: o.members.map((m) => (m.error?.hint ? { ...m, error: word(m.error) } : m)),
    endpointErrors: o.endpointErrors.map((x) => (x.error.hint ? { ...x, error: word(x.error) as ProbeError } : x)),
  };
}
