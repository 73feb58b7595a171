import { describe, expect, it } from 'vitest';
import { createLogger, REDACT_PATHS } from '../../../src/logging/logger.js';
import { logOutcome, outcomeLogFields } from '../../../src/pipeline/outcomes.js';
import type { Outcome } from '../../../src/pipeline/types.js';
import { lineSink } from '../../helpers/log-lines.js';

/** An outcome with every field the request line can show set (an error, a peer, usage). */
const outcome: Outcome = {
  requestId: 'req_1', receivedAt: 0, format: 'openai', operation: 'chat', requestedModel: 'gpt-4o', model: 'gpt-4o-2024', provider: 'openai',
  peer: '12D3KooWpeer', principal: { kind: 'public' }, ip: '127.0.0.1', stream: true, attempts: [{ target: 'openai', error: 'x' } as never],
  status: 502, errorType: 'upstream_error', errorMessage: 'boom', usage: { inputTokens: 3, outputTokens: 4 }, ttftMs: 5, latencyMs: 6,
  findings: [], warnings: [],
};

describe('the request log line', () => {
  it('has no field the logger redacts, so writing it without the redaction pass changes nothing', () => {
    // A redaction path's last segment is the key it censors (`*.api_key` → api_key, `headers["x-api-key"]` → x-api-key).
    const censored = new Set(REDACT_PATHS.map((path) => /(?:\["([^"]+)"\]|([^.[\]]+))$/.exec(path)!.slice(1).find(Boolean)!));
    const fields = Object.keys(outcomeLogFields(outcome));
    expect(fields).toContain('errorType');
    expect(fields.filter((field) => censored.has(field))).toEqual([]);
    expect(Object.values(outcomeLogFields(outcome)).every((value) => value === undefined || typeof value !== 'object')).toBe(true);
  });

  it('is written as the redacting logger would write it, at the logger\'s level', () => {
    const lines: string[] = [];
    const logger = createLogger({ level: 'info', destination: lineSink(lines) });
    logOutcome(logger, outcome);
    logger.info(outcomeLogFields(outcome), 'request completed');
    const [fast, redacted] = lines.map((line) => {
      const { time: _time, ...rest } = JSON.parse(line) as Record<string, unknown>;
      return rest;
    });
    expect(fast).toEqual(redacted);
    expect(fast).toMatchObject({ requestId: 'req_1', status: 502, errorType: 'upstream_error', msg: 'request completed' });

    const quiet: string[] = [];
    logOutcome(createLogger({ level: 'warn', destination: lineSink(quiet) }), outcome);
    expect(quiet).toEqual([]);
  });
});
