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

/**
 * The request line's logger: the node's own without its redaction pass. The line is built from fields none of which
 * can hold a credential, and none named like one (a test holds the field names against the redaction paths), so the
 * pass would change nothing while costing most of the line's CPU.
 */
const requestLoggers = new WeakMap<Logger, Logger>();
function requestLogger(logger: Logger): Logger {
  let child = requestLoggers.get(logger);
  if (!child) {
    child = logger.child({}, { redact: { paths: [] } });
    requestLoggers.set(logger, child);
  }
  return child;
}

/** The fields of the one log line per request (what `logOutcome` writes). */
export function outcomeLogFields(outcome: Outcome): Record<string, unknown> {
  return {
    requestId: outcome.requestId, model: outcome.requestedModel, provider: outcome.provider, peer: outcome.peer,
    status: outcome.status, attempts: outcome.attempts.length, latencyMs: outcome.latencyMs, ttftMs: outcome.ttftMs,
    inputTokens: outcome.usage?.inputTokens, outputTokens: outcome.usage?.outputTokens, stream: outcome.stream,
    ...(outcome.errorType ? { errorType: outcome.errorType } : {}),
  };
}

/** The one log line per request: who served it, how it went, how long it took — never a body or a credential. */
export function logOutcome(logger: Logger, outcome: Outcome): void {
  requestLogger(logger).info(outcomeLogFields(outcome), 'request completed');
}
