import { Writable } from 'node:stream';
import pino from 'pino';
import { describe, expect, it } from 'vitest';
import { createLogger } from '../../../src/logging/logger.js';
import { requestChildLogger } from '../../../src/logging/request-child-logger.js';

/** The node's logger writing into an array, one parsed line per entry (the time field dropped: it moves). */
function capture() {
  const lines: Array<Record<string, unknown>> = [];
  const destination = new Writable({ write(chunk, _encoding, done) { for (const line of String(chunk).split('\n').filter(Boolean)) { const { time: _time, ...rest } = JSON.parse(line); lines.push(rest); } done(); } });
  return { logger: createLogger({ level: 'debug', destination }), lines, raw: destination };
}

describe('requestChildLogger (fastify childLoggerFactory)', () => {
  it("writes the same lines as pino's own child for fastify's request-id binding", () => {
    const { logger, lines } = capture();
    const bindings = { reqId: 'req_0123abcd', n: 7, flag: true, empty: undefined };
    const fields = { code: 'upstream_error', headers: { authorization: 'Bearer sk-secret-value', accept: 'x' }, nested: { api_key: 'k-1', ok: 1 } };
    logger.child(bindings).warn(fields, 'the line');
    requestChildLogger(logger, bindings, {}).warn(fields, 'the line');
    expect(lines).toHaveLength(2);
    expect(lines[1]).toEqual(lines[0]);
    expect(lines[1]).toMatchObject({ reqId: 'req_0123abcd', n: 7, flag: true, headers: { authorization: '[redacted]' }, nested: { api_key: '[redacted]' } });
    expect(JSON.stringify(lines[1])).not.toContain('sk-secret-value');
  });

  it('does not run a plain binding through the wildcard redactor (pino does, for every request)', () => {
    const { logger } = capture();
    const symbols = pino.symbols as unknown as Record<string, symbol>;
    const stringifiers = (logger as unknown as Record<symbol, Record<symbol, (value: unknown) => string>>)[symbols.stringifiersSym!]!;
    const wildcard = stringifiers[symbols.wildcardFirstSym!]!;
    let calls = 0;
    stringifiers[symbols.wildcardFirstSym!] = (value: unknown) => { calls++; return wildcard(value); };
    logger.child({ reqId: 'req_1' });
    expect(calls).toBe(1);
    requestChildLogger(logger, { reqId: 'req_2' }, {});
    expect(calls).toBe(1);
  });

  it('leaves to pino the bindings redaction or a serializer applies to, so they are still redacted', () => {
    const { logger, lines } = capture();
    for (const bindings of [{ token: 'tok-secret' }, { user: { api_key: 'key-secret' } }, { req: { method: 'GET', url: '/v1beta/models?key=key-secret' } }]) {
      logger.child(bindings).info('pino');
      requestChildLogger(logger, bindings, {}).info('pino');
    }
    expect(lines).toHaveLength(6);
    for (let i = 0; i < 6; i += 2) expect(lines[i + 1]).toEqual(lines[i]);
    expect(JSON.stringify(lines)).not.toContain('secret');
  });

  it("keeps fastify's per-route options (a log level) and the parent's bindings", () => {
    const { logger, lines } = capture();
    const parent = logger.child({ component: 'http' });
    const child = requestChildLogger(parent, { reqId: 'req_1' }, { level: 'warn' });
    child.info('dropped by the route level');
    child.warn('kept');
    expect(lines).toEqual([expect.objectContaining({ component: 'http', reqId: 'req_1', msg: 'kept', service: 'meshgate' })]);
  });
});
