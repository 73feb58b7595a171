import type { FastifyReply } from 'fastify';
import { errorEvent, toGatewayError } from '../errors/index.js';
import type { WireFormat } from '../core/index.js';
import { sseEventCount } from '../formats/index.js';
import type { GatewayResponse } from '../pipeline/types.js';

/**
 * Writes a pipeline response straight to the node:http response, past fastify's reply path (which would only add
 * work here: no onSend hooks, the body already serialised): pass-through bytes exactly as the upstream sent them, JSON
 * serialised once, both in one write with their length. SSE is written chunk by chunk (no buffering), waiting for
 * `drain` when the client reads slower than the upstream writes. An error after the first byte becomes an error event
 * in the client's format, never a silently truncated 200.
 */
export async function sendGatewayResponse(reply: FastifyReply, response: GatewayResponse, format: WireFormat, extraHeaders?: Record<string, string>): Promise<void> {
  const { body } = response;
  if (body.kind !== 'sse') {
    const payload = body.kind === 'bytes' ? body.value : Buffer.from(JSON.stringify(body.value));
    // The head first: node refuses a header value it cannot send by throwing here, and before hijack() fastify's
    // error handler still answers that with a 500 instead of leaving the client without a response.
    reply.raw.writeHead(response.status, responseHead(reply, response, extraHeaders, { 'content-length': payload.byteLength }));
    reply.hijack();
    reply.raw.end(payload);
    return;
  }

  reply.hijack();
  const raw = reply.raw;
  const events = body.events;
  // Events written so far (a chunk may hold several): the count is the next sequence number.
  let written = 0;
  try {
    // Not flushed on their own: the stream is primed (its first event is in hand), so the head goes out with that event
    // in one write — one system call and one packet fewer before the first token.
    raw.writeHead(response.status, responseHead(reply, response, extraHeaders, { connection: raw.shouldKeepAlive ? 'keep-alive' : 'close', 'x-accel-buffering': 'no' }));
    for await (const chunk of events) {
      if (raw.destroyed) break;
      written += sseEventCount(chunk);
      if (!raw.write(chunk)) {
        await new Promise<void>((resolve) => {
          const done = () => {
            raw.off('drain', done);
            raw.off('close', done);
            resolve();
          };
          raw.on('drain', done);
          raw.on('close', done);
        });
      }
    }
  } catch (err) {
    if (!raw.headersSent) {
      // Nothing was sent (headers refused by node:http): no way to answer in the stream's shape, so end the exchange.
      reply.log.error({ err: (err as Error).message }, 'stream response could not start');
      raw.destroy();
    } else if (!raw.destroyed) {
      const error = toGatewayError(err);
      reply.log.warn({ err: error.message, code: error.code }, 'stream failed after first byte');
      raw.write(errorEvent(format, error, written));
    }
  } finally {
    await events.return(undefined);
    if (!raw.destroyed) raw.end();
  }
}

/**
 * The response's head: the headers hooks already set on the reply (CORS: they must survive hijacking), then the
 * caller's extra ones, the response's own and `last`, a later one replacing an earlier one of the same name — one
 * object, filled in place.
 */
function responseHead(reply: FastifyReply, response: GatewayResponse, extra: Record<string, string> | undefined, last: Record<string, string | number>): Record<string, string | number | string[]> {
  const head = reply.getHeaders() as Record<string, string | number | string[]>;
  if (extra) Object.assign(head, extra);
  Object.assign(head, response.headers);
  return Object.assign(head, last);
}
