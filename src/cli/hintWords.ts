/**
 * The command line's words for what core says the user can do next (core/errors `Hint`): its
 * own flags and etcdctl commands, never the VS Code extension's settings or command titles.
 */
import type { HintWords } from '../core/errors';

export const cliHintWords: HintWords = (hint) => {
  switch (hint.kind) {
    case 'toolPath': {
      const flags = hint.tools.map((t) => `--${t} PATH`).join(' / ');
      return hint.configured ? `fix ${flags} or leave it out to use ${hint.tools.join(' / ')} from PATH` : `or pass ${flags}`;
    }
    case 'reclaimSpace':
      return hint.brief
        ? 'compact and defragment'
        : 'compact and defragment the cluster, then disarm the alarm (etcdctl ' +
            'compact <revision>; etcdctl defrag on each member; etcdctl alarm disarm)';
    case 'listMembers':
      return 'list the members again (etcdctl member list)';
    case 'promoteLearner':
      return `then promote it (etcdctl member promote ${hint.memberId})`;
  }
};
