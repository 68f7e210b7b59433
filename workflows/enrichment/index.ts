// Data enrichment as graph steps: data points defined once, fetched through tools with a fleet-shared TTL cache,
// then run through a pipeline of transforms.

export type { EnrichmentCacheOptions, EnrichmentCacheStats } from './cache.js';
export { EnrichmentCache, enrichmentCache } from './cache.js';
export type { DataPoint, DataPointSpec } from './data-point.js';
export { dataPoint } from './data-point.js';
export type { EnrichOptions, TransformStep } from './enrich.js';
export { enrich, transform } from './enrich.js';
export { EnrichmentError, EnrichmentErrorCode } from './errors.js';
