import type { Logger } from 'pino';
import type { Outcome } from './types.js';

/**
 * Everyone told when a request finished (records, metrics, tests), in subscription order. A listener that throws is
 * logged and the others still run: one failing consumer must never take down the request path.
 */
export class OutcomeListeners {
  private readonly listeners = new Set<(outcome: Outcome) => void>();

  constructor(private readonly logger: Logger) {}

  /** Subscribes; returns the unsubscribe function. */
  add(listener: (outcome: Outcome) => void): () => void {
    this.listeners.add(listener);
    return () => this.listeners.delete(listener);
  }

  emit(outcome: Outcome): void {
    for (const listener of this.listeners) {
      try {
        listener(outcome);
      } catch (err) {
        this.logger.error({ err }, 'completion listener failed');
      }
    }
  }
}

/** The one log line per request: who served it, how it went, how long it took — never a body or a credential. */
export function logOutcome(logger: Logger, outcome: Outcome): void {
  logger.info(
    {
      requestId: outcome.requestId, model: outcome.requestedModel, provider: outcome.provider, peer: outcome.peer,
      status: outcome.status, attempts: outcome.attempts.length, latencyMs: outcome.latencyMs, ttftMs: outcome.ttftMs,
      inputTokens: outcome.usage?.inputTokens, outputTokens: outcome.usage?.outputTokens, stream: outcome.stream,
      ...(outcome.errorType ? { errorType: outcome.errorType } : {}),
    },
    'request completed',
  );
}
