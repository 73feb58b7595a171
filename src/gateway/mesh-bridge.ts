import { createParser } from 'eventsource-parser';
import { MAX_SSE_EVENT_BYTES } from '../formats/sse.js';
import { estimateTextTokens } from '../pipeline/token-estimate.js';
import type { Logger } from 'pino';
import { formatMicrosAsUsd, microsToUsd, usdToMicros, type WireFormat } from '../core/index.js';
import { GatewayError, errorBody, errorEvent, toGatewayError } from '../errors/index.js';
import type { Usage } from '../formats/canonical.js';
import { codecs } from '../formats/index.js';
import { settleReceipt, type Ledger, type SettleContext } from '../ledger/index.js';
import type { ForwardHandler, ForwardRequestFrame, MeshNode, ModelAdvert } from '../mesh/index.js';
import type { ForwardFrame, PeerForwarder, PeerResponse } from '../pipeline/peer-attempt.js';
import type { Pipeline } from '../pipeline/pipeline.js';
import type { GatewayRequest, GatewayResponse, Outcome } from '../pipeline/types.js';
import { iterator } from '../pipeline/streaming.js';

const encoder = new TextEncoder();
/** A complete answer larger than this is relayed but not parsed for its usage. */
const MAX_METERED_BODY_BYTES = 16 * 1024 * 1024;

/** Receipt prices are integer micro-USD per million tokens; records advertise USD per million tokens. */
export function receiptPrice(price: ModelAdvert['price'] | undefined) {
  const micros = (usd: number | undefined) => usdToMicros(usd ?? 0);
  return { input: micros(price?.inputPerMTok), output: micros(price?.outputPerMTok), cached: micros(price?.cachedInputPerMTok) };
}

const receiptUsage = (usage: Partial<Usage>) => ({ input: usage.inputTokens ?? 0, output: usage.outputTokens ?? 0, cached: usage.cachedInputTokens ?? 0 });

/**
 * Measures usage in a response this node relays from a peer, from the response itself (the usage chunk or event
 * of the client's format), so the peer's receipt can be checked against something the peer did not merely assert.
 */
function relayMeter(format: WireFormat, stream: boolean) {
  const codec = codecs[format];
  let usage: Partial<Usage> = {};
  const decoder = new TextDecoder();
  const chunks: Uint8Array[] = [];
  let size = 0;
  let overflow = false;
  // Bounded like every SSE parse here: a peer whose stream never ends an event is not metered (its receipt is then
  // checked against this node's estimate) rather than buffered without end.
  const parser = stream
    ? createParser({ onEvent: (m) => void (usage = { ...usage, ...codec.tapStreamMessage(m, true).usage }), onError: () => void (overflow = true), maxBufferSize: MAX_SSE_EVENT_BYTES })
    : undefined;
  return {
    feed(chunk: Uint8Array) {
      if (parser) {
        if (!overflow) parser.feed(decoder.decode(chunk, { stream: true }));
      } else if (size <= MAX_METERED_BODY_BYTES) {
        size += chunk.byteLength;
        chunks.push(chunk);
      }
    },
    result(): { input: number; output: number; cached: number } | undefined {
      if (!parser) {
        if (size > MAX_METERED_BODY_BYTES) return undefined;
        try {
          usage = codec.usageFromResponse(JSON.parse(Buffer.concat(chunks).toString('utf8'))) ?? {};
        } catch {
          return undefined;
        }
      }
      return usage.inputTokens === undefined ? undefined : receiptUsage(usage);
    },
  };
}

export interface PeerForwarderOptions {
  forward: 'on_failure' | 'never';
  maxHops: number;
  lookupTimeoutMs: number;
  /** Receipts of forwarded work are checked and acknowledged with these (absent: no receipts kept). */
  ledger?: Omit<SettleContext, 'logger'>;
  logger: Logger;
}

/** The pipeline's view of the mesh: which peers serve a model, and forwarding to one of them (with its receipt). */
export function peerForwarder(mesh: MeshNode, options: PeerForwarderOptions): PeerForwarder {
  const advertisedPrice = (peerId: string, model: string) =>
    mesh.status().peers.find((p) => p.peerId === peerId)?.models.find((m) => m.id === model)?.price;
  return {
    selfId: mesh.peerId,
    canForward: (req) => options.forward !== 'never' && req.hop.count < options.maxHops,
    candidates: async (model, exclude, signal) => {
      const peers = await mesh.findPeersForModel(model, { exclude, signal: AbortSignal.any([signal, AbortSignal.timeout(options.lookupTimeoutMs)]) });
      return peers.map((p) => p.peerId);
    },
    forward: async (peerId, frame: ForwardFrame, signal): Promise<PeerResponse> => {
      // The price the peer advertised when it was chosen: a receipt is checked against that, not against whatever
      // the peer advertises by the time its trailer arrives.
      const price = receiptPrice(advertisedPrice(peerId, frame.model));
      const result = await mesh.forward(peerId, frame as ForwardRequestFrame, signal);
      const meter = relayMeter(frame.format, frame.stream);
      let relayed = 0;
      const body = (async function* () {
        for await (const chunk of result.body) {
          meter.feed(chunk);
          relayed += chunk.byteLength;
          yield chunk;
        }
      })();
      const trailer = result.trailer.then((t) => {
        if (options.ledger && t.receipt) {
          const usage = meter.result();
          // Only when the response carried no usage to measure: this node's own estimate to check the claim against.
          const estimate = usage ? undefined : { input: estimateTextTokens(JSON.stringify(frame.body).length), output: estimateTextTokens(relayed) };
          const measured = { usage, price, estimate };
          void settleReceipt({ logger: options.logger, ...options.ledger }, peerId, frame.id, t.receipt, measured);
        }
        return t;
      });
      // The pipeline may never look at the trailer (a peer that answered an error); its failure is not news then.
      trailer.catch(() => undefined);
      return { head: result.head, body, trailer };
    },
  };
}

/**
 * The response as bytes for the forward stream. For a stream, closing this iterator (the requester went away, even
 * before the first chunk was read) closes the pipeline's events, which releases the request's slot and quota.
 */
function responseBytes(response: GatewayResponse, format: GatewayRequest['format'], onClose: () => void): AsyncGenerator<Uint8Array> {
  const { body } = response;
  if (body.kind !== 'sse') {
    let sent = false;
    const bytes = body.kind === 'json' ? encoder.encode(JSON.stringify(body.value)) : body.value;
    return iterator<Uint8Array>({
      next: async () => (sent ? { done: true as const, value: undefined } : ((sent = true), { done: false as const, value: bytes })),
      return: async () => onClose(),
    });
  }
  const events = body.events;
  let failed = false;
  return iterator<Uint8Array>({
    next: async () => {
      if (failed) return { done: true as const, value: undefined };
      try {
        const next = await events.next();
        if (next.done) return { done: true as const, value: undefined };
        return { done: false as const, value: typeof next.value === 'string' ? encoder.encode(next.value) : next.value };
      } catch (err) {
        // Mid-stream failure on this node: the requester's client gets the same error event a local client would.
        failed = true;
        return { done: false as const, value: encoder.encode(errorEvent(format, toGatewayError(err))) };
      }
    },
    return: async () => {
      await events.return(undefined); // ends the pipeline's stream: its usage is known (measured or estimated) now
      onClose();
    },
  });
}

function refusal(frame: ForwardRequestFrame, error: GatewayError) {
  return {
    head: { status: error.status, headers: { 'content-type': 'application/json', ...error.headers } },
    body: (async function* () {
      yield encoder.encode(JSON.stringify(errorBody(frame.format, error)));
    })(),
    trailer: () => ({ error: { status: error.status, message: error.message } }),
  };
}

export interface ForwardHandlerOptions {
  logger: Logger;
  ledger?: Ledger;
  /** This node's advertised price for a model (what its receipts charge). */
  priceOf: (model: string) => ModelAdvert['price'] | undefined;
}

/**
 * Serves requests forwarded by peers: the full local pipeline runs (sanitization, limits for the requesting peer,
 * failover over this node's providers), with the peer as principal and the hop bookkeeping of the frame, so the
 * request is never forwarded beyond `max_hops` nor back to a node it visited. The trailer carries a signed receipt.
 */
export function forwardHandler(pipeline: Pipeline, options: ForwardHandlerOptions): ForwardHandler {
  const { logger, ledger } = options;
  return async (frame, { peerId, signal }) => {
    if (ledger && (await ledger.creditExceeded(peerId))) {
      const owed = await ledger.unacknowledged(peerId);
      logger.warn({ peer: peerId, unacknowledgedUsd: microsToUsd(owed) }, 'mesh: peer over its credit limit, refusing work');
      return refusal(frame, new GatewayError('credit_limit_exceeded', `Peer ${peerId} has $${formatMicrosAsUsd(owed)} in unacknowledged receipts, over this node's credit limit; service resumes once they are acknowledged.`));
    }
    if (frame.body === null || typeof frame.body !== 'object' || Array.isArray(frame.body)) {
      return refusal(frame, new GatewayError('invalid_request', 'The forwarded request body must be a JSON object.'));
    }
    const req: GatewayRequest = {
      id: frame.id,
      format: frame.format,
      operation: frame.operation,
      body: frame.body as Record<string, unknown>,
      model: frame.model,
      stream: frame.stream,
      // Aborted when the requester goes away or the frame's deadline (capped by the forward server) passes.
      signal,
      principal: { kind: 'peer', id: peerId },
      receivedAt: Date.now(),
      // The hop count and path as this node knows them, not only as the peer claims: the sending peer is on the
      // path, and the request has come at least as many hops as the path is long.
      hop: { count: Math.max(frame.hop, frame.visited.length, 1), visited: frame.visited.includes(peerId) ? frame.visited : [...frame.visited, peerId] },
    };
    let response: GatewayResponse;
    try {
      response = await pipeline.handle(req);
    } catch (err) {
      const error = toGatewayError(err);
      logger.info({ requestId: frame.id, peer: peerId, status: error.status, code: error.code }, 'mesh: forwarded request refused');
      return refusal(frame, error);
    }
    const outcome: Outcome = response.outcome;
    const price = receiptPrice(options.priceOf(frame.model));
    // Issued once the response ended — with the trailer, or when the requester closed the stream before it (a
    // requester cannot be served for free by resetting the stream before the trailer: the receipt then stays
    // unacknowledged here, counts toward its credit limit, and reaches it through reconciliation).
    let receipt: Promise<string | undefined> | undefined;
    const issueReceipt = () => (receipt ??= (async () => {
      const usage = outcome.usage;
      if (!ledger || !usage || outcome.status >= 400) return undefined;
      return ledger.issue(peerId, frame.id, frame.model, receiptUsage(usage), price).catch((err: Error) => {
        logger.error({ err: err.message, requestId: frame.id }, 'mesh: could not issue a receipt');
        return undefined;
      });
    })());
    return {
      head: { status: response.status, headers: response.headers },
      body: responseBytes(response, frame.format, () => void issueReceipt()),
      trailer: async () => {
        const usage = outcome.usage;
        const receipt = await issueReceipt();
        return {
          ...(usage ? { usage: { inputTokens: usage.inputTokens, outputTokens: usage.outputTokens, ...(usage.cachedInputTokens ? { cachedInputTokens: usage.cachedInputTokens } : {}) } } : {}),
          ...(outcome.provider ? { provider: outcome.provider } : {}),
          ...(outcome.model ? { model: outcome.model } : {}),
          ...(outcome.status >= 400 ? { error: { status: outcome.status, message: outcome.errorMessage ?? 'error' } } : {}),
          ...(receipt ? { receipt } : {}),
        };
      },
    };
  };
}
