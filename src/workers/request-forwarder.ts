import type { IncomingHttpHeaders, OutgoingHttpHeaders } from 'node:http';
import type { FastifyReply, FastifyRequest } from 'fastify';
import { errorBody } from '../errors/index.js';
import { CLIENT_ADDRESS_HEADER } from '../gateway/gateway.js';
import { primaryUnavailable } from './ipc-channel.js';

/**
 * node:http as Node's built-in object (`process.getBuiltinModule`, Node ≥ 22.3), not an ES import: Node builds an ES
 * module's view of a built-in by reading every one of its exports, and node:http's `WebSocket`, `CloseEvent` and
 * `MessageEvent` are getters that load Node's own copy of undici (~3.3 MB of heap, for objects no request uses). A test
 * holds a started node to that.
 */
const { Agent, request: httpRequest } = process.getBuiltinModule('node:http');

/** Hop-by-hop headers (RFC 9110 §7.6.1): they describe one connection, so they are not passed along. */
const HOP_BY_HOP = new Set(['connection', 'keep-alive', 'proxy-connection', 'te', 'trailer', 'upgrade', 'transfer-encoding']);

function endToEnd(headers: IncomingHttpHeaders): OutgoingHttpHeaders {
  const kept: OutgoingHttpHeaders = {};
  for (const [name, value] of Object.entries(headers)) if (value !== undefined && !HOP_BY_HOP.has(name)) kept[name] = value;
  return kept;
}

/**
 * Hands a request whole to the primary over its Unix socket and streams the answer back: the method, the URL (already
 * without a `?key=` credential), the headers and the body as they came, plus the client's address in
 * `x-meshgate-client-address` (set here, over anything the client sent), which the primary trusts on that socket only.
 * The body is piped both ways (backpressure holds); a client that leaves aborts the primary's exchange.
 */
export function primaryForwarder(socketPath: string): { forward: (request: FastifyRequest, reply: FastifyReply) => void; close: () => void } {
  const agent = new Agent({ keepAlive: true, maxSockets: 256 });
  const forward = (request: FastifyRequest, reply: FastifyReply) => {
    const res = reply.raw;
    const headers = { ...endToEnd(request.headers), [CLIENT_ADDRESS_HEADER]: request.socket.remoteAddress ?? '' };
    const upstream = httpRequest({ socketPath, agent, method: request.method, path: request.url, headers }, (answer) => {
      res.writeHead(answer.statusCode ?? 502, endToEnd(answer.headers));
      answer.pipe(res);
      answer.on('error', () => res.destroy());
    });
    upstream.on('error', (err) => {
      if (res.headersSent) {
        res.destroy(err);
        return;
      }
      const body = JSON.stringify(errorBody(request.url.startsWith('/v1beta') ? 'gemini' : request.headers['anthropic-version'] ? 'anthropic' : 'openai', primaryUnavailable('its socket did not answer')));
      res.writeHead(503, { 'content-type': 'application/json; charset=utf-8', 'retry-after': '2', 'x-request-id': request.id });
      res.end(body);
    });
    res.on('close', () => {
      if (!res.writableFinished) upstream.destroy();
    });
    request.raw.pipe(upstream);
  };
  return { forward, close: () => agent.destroy() };
}
