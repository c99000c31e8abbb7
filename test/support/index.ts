/** The test rigs for real etcd, in one import: `import { startCluster, putKeys } from '../support'`. */
export * from './etcdRig';
export * from './etcdData';
