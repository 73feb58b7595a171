import type { Logger } from 'pino';
import { errorBody, errorEvent, toGatewayError } from '../errors/index.js';
import type { ForwardHandler, ForwardRequestFrame, MeshNode } from '../mesh/index.js';
import type { ForwardFrame, PeerForwarder, PeerResponse } from '../pipeline/peer-attempt.js';
import type { Pipeline } from '../pipeline/pipeline.js';
import type { GatewayRequest, GatewayResponse, Outcome } from '../pipeline/types.js';

const encoder = new TextEncoder();

/** The pipeline's view of the mesh: which peers serve a model, and forwarding to one of them. */
export function peerForwarder(mesh: MeshNode, options: { forward: 'on_failure' | 'never'; maxHops: number; lookupTimeoutMs: number }): PeerForwarder {
  return {
    selfId: mesh.peerId,
    canForward: (req) => options.forward !== 'never' && req.hop.count < options.maxHops,
    candidates: async (model, exclude, signal) => {
      const peers = await mesh.findPeersForModel(model, { exclude, signal: AbortSignal.any([signal, AbortSignal.timeout(options.lookupTimeoutMs)]) });
      return peers.map((p) => p.peerId);
    },
    forward: async (peerId, frame: ForwardFrame, signal): Promise<PeerResponse> => {
      const result = await mesh.forward(peerId, frame as ForwardRequestFrame, signal);
      return { head: result.head, body: result.body, trailer: result.trailer };
    },
  };
}

async function* responseBytes(response: GatewayResponse, format: GatewayRequest['format']): AsyncGenerator<Uint8Array> {
  const { body } = response;
  if (body.kind === 'json') return yield encoder.encode(JSON.stringify(body.value));
  if (body.kind === 'bytes') return yield body.value;
  try {
    for await (const chunk of body.events) yield typeof chunk === 'string' ? encoder.encode(chunk) : chunk;
  } catch (err) {
    // Mid-stream failure on this node: the requester's client gets the same error event a local client would.
    yield encoder.encode(errorEvent(format, toGatewayError(err)));
  }
}

/**
 * Serves requests forwarded by peers: the full local pipeline runs (sanitization, limits for the requesting peer,
 * failover over this node's providers), with the peer as principal and the hop bookkeeping of the frame, so the
 * request is never forwarded beyond `max_hops` nor back to a node it visited.
 */
export function forwardHandler(pipeline: Pipeline, logger: Logger): ForwardHandler {
  return async (frame, { peerId, signal }) => {
    const req: GatewayRequest = {
      id: frame.id,
      format: frame.format,
      operation: frame.operation,
      body: frame.body as Record<string, unknown>,
      model: frame.model,
      stream: frame.stream,
      signal: AbortSignal.any([signal, AbortSignal.timeout(Math.max(1, frame.deadline - Date.now()))]),
      principal: { kind: 'peer', id: peerId },
      receivedAt: Date.now(),
      hop: { count: frame.hop, visited: frame.visited },
    };
    let outcome: Outcome | undefined;
    try {
      const response = await pipeline.handle(req);
      outcome = response.outcome;
      return {
        head: { status: response.status, headers: response.headers },
        body: responseBytes(response, frame.format),
        trailer: () => ({
          usage: outcome?.usage ? { inputTokens: outcome.usage.inputTokens, outputTokens: outcome.usage.outputTokens, cachedInputTokens: outcome.usage.cachedInputTokens } : undefined,
          provider: outcome?.provider,
          model: outcome?.model,
          ...(outcome && outcome.status >= 400 ? { error: { status: outcome.status, message: outcome.errorMessage ?? 'error' } } : {}),
        }),
      };
    } catch (err) {
      const error = toGatewayError(err);
      logger.info({ requestId: frame.id, peer: peerId, status: error.status, code: error.code }, 'forwarded request refused');
      return {
        head: { status: error.status, headers: { 'content-type': 'application/json', ...error.headers } },
        body: (async function* () {
          yield encoder.encode(JSON.stringify(errorBody(frame.format, error)));
        })(),
        trailer: () => ({ error: { status: error.status, message: error.message } }),
      };
    }
  };
}
