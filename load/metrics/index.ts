// A node's figures: the recorder, the OpenTelemetry hook it may feed, and the merge of nodes' snapshots.

export type { LoadMetricsHook } from './hook.js';
export type { MergedFigures } from './merge.js';
export { mergeSnapshots } from './merge.js';
export type { NodeRecorder, RecorderOptions, SnapshotExtra } from './node-recorder.js';
export { createRecorder } from './node-recorder.js';
export type { Recorder } from './recorder.js';
