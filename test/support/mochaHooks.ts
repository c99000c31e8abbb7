/**
 * Mocha root hooks for tiers that start real etcd (test/integration/.mocharc.json requires
 * this file): whatever a suite left running, even after a failure, is stopped once all tests
 * are done. The rig's own 'exit' handler is the last line of defence.
 */
import { liveClusterCount, stopAllClusters } from './etcdRig';

export const mochaHooks = {
  async afterAll(this: Mocha.Context): Promise<void> {
    this.timeout(60000);
    const left = liveClusterCount();
    if (left > 0) {
      process.stderr.write(`etcdRig: stopping ${left} cluster(s) a suite left running.\n`);
    }
    await stopAllClusters();
  },
};
