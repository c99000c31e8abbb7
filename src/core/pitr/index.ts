/**
 * Point-in-time recovery: the change log between full snapshots (segments written by the
 * follower) and a snapshot of any covered revision or time, materialized on demand. Plain Node.
 */
export { CompactedError, follow, Follower, groupRevisions } from './follower';
export type { FollowLog, FollowOptions, FollowStatus } from './follower';
export { checkFollow, changelogDir, FOLLOW_DEFAULTS } from './followPlan';
export type { FollowSettings } from './followPlan';
export { PlanFullSnapshots, PlanSegmentStore, remoteSegmentName, segmentOfRemote } from './planStores';
export { materialize } from './materialize';
export type { MaterializeCheck, MaterializeOptions, MaterializeResult } from './materialize';
export { eventJson, parseSegment, parseSegmentName, SegmentBuilder, SegmentCorruptError, segmentName } from './segment';
export type { ChangeEvent, LeaseRecord, RevisionRecord, Segment, SegmentHeader } from './segment';
export { LocalSegmentStore, segmentsFor, writeFileAtomic } from './store';
export type { CoverageGap, FullSnapshotRef, FullSnapshots, SegmentRef, SegmentStore } from './store';
