export { createMetrics, GatewayMetrics } from './gateway-metrics.js';
export type { MeshForwardOutcome, MetricsOptions, MetricsSnapshot } from './gateway-metrics.js';
export { metricsRoute } from './metrics-route.js';
export { LabelLimit, OTHER_LABEL } from './label-limit.js';
export { EventLoopLag } from './event-loop-lag.js';
