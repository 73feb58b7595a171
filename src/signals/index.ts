export { QualityAggregate } from './quality-aggregate.js';
export type { QualityGroup, QualitySignals, QualitySnapshot } from './quality-aggregate.js';
export { QualitySignalService } from './quality-signals.js';
export { SignalStore } from './signal-store.js';
export type { SignalFilters } from './signal-store.js';
export { DEFAULT_SCORE, MAX_NOTE_LENGTH, SIGNAL_KINDS, qualitySignalSchema, signalInputSchema, signalsConfigSchema } from './signal-schema.js';
export type { QualitySignal, SignalInput, SignalKind, SignalsConfig } from './signal-schema.js';
export { signalsRoutes, signalsSummaryRoute } from './signals-routes.js';
