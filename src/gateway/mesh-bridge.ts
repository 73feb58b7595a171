import type { Logger } from 'pino';
import { formatMicrosAsUsd, microsToUsd, usdToMicros } from '../core/index.js';
import { GatewayError, errorBody, errorEvent, toGatewayError } from '../errors/index.js';
import type { CanonicalRequest } from '../formats/canonical.js';
import { codecs } from '../formats/index.js';
import {
  boundedUsage, costMicros, hiddenOutputAllowance, usageBound, type CreditReservation, type CreditReservations, type Ledger, type ReceiptPayload, type ReceiptSettler,
} from '../ledger/index.js';
import type { ForwardHandler, ForwardRequestFrame, ForwardTrailer, MeshNode, ModelAdvert } from '../mesh/index.js';
import type { PeerForwarder, PeerResponse } from '../pipeline/peer-attempt.js';
import type { Assessment, Pipeline } from '../pipeline/pipeline.js';
import { iterator } from '../pipeline/streaming.js';
import { requestEstimate } from '../pipeline/token-estimate.js';
import { unreadDocumentAllowance } from '../pipeline/document-estimate.js';
import type { GatewayRequest, GatewayResponse, Outcome } from '../pipeline/types.js';
import { checkBodyDepth } from '../http/body-depth.js';
import { receiptUsage, relayMeter } from './relay-meter.js';

const encoder = new TextEncoder();

/** Receipt prices are integer micro-USD per million tokens; records advertise USD per million tokens. */
export function receiptPrice(price: ModelAdvert['price'] | undefined) {
  const micros = (usd: number | undefined) => usdToMicros(usd ?? 0);
  return { input: micros(price?.inputPerMTok), output: micros(price?.outputPerMTok), cached: micros(price?.cachedInputPerMTok) };
}

export interface PeerForwarderOptions {
  forward: 'on_failure' | 'never';
  maxHops: number;
  lookupTimeoutMs: number;
  /** Receipts of forwarded work are checked and acknowledged by this node's settler (absent: no receipts kept). */
  receipts?: ReceiptSettler;
  logger: Logger;
}

/** The pipeline's view of the mesh: which peers serve a model, and forwarding to one of them (with its receipt). */
export function peerForwarder(mesh: MeshNode, options: PeerForwarderOptions): PeerForwarder {
  return {
    selfId: mesh.peerId,
    canForward: (req) => options.forward !== 'never' && req.hop.count < options.maxHops,
    candidates: async (model, exclude, signal, accept) => {
      const peers = await mesh.findPeersForModel(model, { exclude, signal, timeoutMs: options.lookupTimeoutMs });
      return peers.map((p) => p.peerId).filter((peerId) => accept?.(peerId) ?? true);
    },
    prices: (model) => mesh.peerPrices(model),
    forward: async (peerId, frame, signal, known): Promise<PeerResponse> => {
      // The price the peer advertised when it was chosen: a receipt is checked against that, not against whatever
      // the peer advertises by the time its trailer arrives.
      const advert = mesh.advertisedModel(peerId, frame.model);
      const price = receiptPrice(advert?.price);
      const canonical = known ?? canonicalOf(frame);
      const result = await mesh.forward(peerId, frame, signal);
      const meter = relayMeter(frame.format, frame.stream);
      const body = (async function* () {
        for await (const chunk of result.body) {
          meter.feed(chunk);
          yield chunk;
        }
      })();
      const trailer = result.trailer.then(async (t): Promise<ForwardTrailer> => {
        const relayed = await meter.result();
        // Input as estimated from this node's own copy of the request, output as relayed (the peer's counts are claims);
        // reasoning the answer reports (or the request asked for) but does not show is allowed up to the request's own
        // output limit.
        const measured = { input: requestEstimate(canonical, frame.body, frame.operation).inputTokens, output: relayed.outputTokens };
        // Documents sent by URL the peer's provider fetched and this node never saw: allowed up to a stated page count,
        // at most the context window the peer advertised for the model.
        const bound = usageBound(measured, hiddenOutputAllowance(relayed.reasoningTokens, canonical?.maxTokens, requestedReasoningBudget(canonical)), unreadDocumentAllowance(canonical, advert?.contextLength));
        if (options.receipts && t.receipt) {
          void options.receipts.settle(peerId, frame.id, t.receipt, { usage: relayed.reported, price, bound, model: frame.model });
        }
        // What this node's client is charged (quotas, records): the peer's claim up to the bound, or this node's own
        // measurement when the peer claims nothing.
        const charged = t.usage ? boundedUsage(receiptUsage(t.usage), bound) : { ...measured, cached: 0 };
        if (t.usage && (charged.input < t.usage.inputTokens || charged.output < t.usage.outputTokens)) {
          options.logger.warn({ peer: peerId, requestId: frame.id, claimed: t.usage, charged }, 'mesh: peer claimed more usage than this node measured; its client is charged the bounded figure');
        }
        return { ...t, usage: { inputTokens: charged.input, outputTokens: charged.output, ...(charged.cached ? { cachedInputTokens: charged.cached } : {}) } };
      });
      // The pipeline may never look at the trailer (a peer that answered an error); its failure is not news then.
      trailer.catch(() => undefined);
      return { head: result.head, body, trailer };
    },
  };
}

/** The reasoning budget a request asked for (its output limit when it asked for reasoning without a budget). */
function requestedReasoningBudget(canonical: CanonicalRequest | undefined): number | undefined {
  const reasoning = canonical?.reasoning;
  if (!reasoning || reasoning.enabled === false || reasoning.effort === 'none') return undefined;
  return reasoning.budgetTokens ?? canonical?.maxTokens;
}

/** The canonical form of a frame's chat request, for estimates; undefined for other operations or a body that does not parse. */
function canonicalOf(frame: ForwardRequestFrame) {
  if (frame.operation === 'embeddings') return undefined;
  try {
    return codecs[frame.format].requestToCanonical(frame.body, { model: frame.model, stream: frame.stream });
  } catch {
    return undefined;
  }
}

/**
 * The response as bytes for the forward stream. For a stream, closing this iterator (the requester went away, even
 * before the first chunk was read) closes the pipeline's events, which releases the request's slot and quota.
 */
function responseBytes(response: GatewayResponse, format: GatewayRequest['format'], onChunk: (bytes: Uint8Array) => void, onClose: () => void): AsyncGenerator<Uint8Array> {
  const { body } = response;
  const chunk = (value: Uint8Array) => {
    onChunk(value);
    return { done: false as const, value };
  };
  if (body.kind !== 'sse') {
    let sent = false;
    const bytes = body.kind === 'json' ? encoder.encode(JSON.stringify(body.value)) : body.value;
    return iterator<Uint8Array>({
      next: async () => (sent ? { done: true as const, value: undefined } : ((sent = true), chunk(bytes))),
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
        return chunk(typeof next.value === 'string' ? encoder.encode(next.value) : next.value);
      } catch (err) {
        // Mid-stream failure on this node: the requester's client gets the same error event a local client would.
        failed = true;
        return chunk(encoder.encode(errorEvent(format, toGatewayError(err))));
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
  /** The credit limit with work in flight counted (absent: no limit). */
  credit?: CreditReservations;
  /** This node's advertised price for a model (what its receipts charge). */
  priceOf: (model: string) => ModelAdvert['price'] | undefined;
}

/** What a forwarded request may cost at this node's price, reserved against the peer's credit while it runs. */
function estimatedCostMicros(estimate: Assessment['estimate'], price: ReturnType<typeof receiptPrice>): number {
  return costMicros({ input: estimate.inputTokens, output: estimate.maxOutputTokens, cached: 0 }, price);
}

/**
 * Serves requests forwarded by peers: the full local pipeline runs (sanitization, limits for the requesting peer,
 * failover over this node's providers), with the peer as principal and the hop bookkeeping of the frame, so the
 * request is never forwarded beyond `max_hops` nor back to a node it visited. The trailer carries a signed receipt.
 */
export function forwardHandler(pipeline: Pipeline, options: ForwardHandlerOptions): ForwardHandler {
  const { logger, ledger, credit } = options;
  return async (frame, { peerId, signal }) => {
    if (frame.body === null || typeof frame.body !== 'object' || Array.isArray(frame.body)) {
      return refusal(frame, new GatewayError('invalid_request', 'The forwarded request body must be a JSON object.'));
    }
    // The checks a client's body passes at this node's HTTP edge, which a forwarded body never crosses.
    try {
      checkBodyDepth(frame.body);
    } catch (err) {
      return refusal(frame, toGatewayError(err));
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
    const price = receiptPrice(options.priceOf(frame.model));
    let reservation: CreditReservation | undefined;
    // Validated and estimated once, for the credit check and for the pipeline (which takes it while the body is unchanged).
    let assessed: Assessment | undefined;
    if (credit) {
      assessed = pipeline.assess(req);
      const admission = await credit.admit(peerId, estimatedCostMicros(assessed.estimate, price));
      if (!admission.admitted) {
        logger.warn({ peer: peerId, unacknowledgedUsd: microsToUsd(admission.owedMicros), inFlightUsd: microsToUsd(admission.inFlightMicros) }, 'mesh: peer over its credit limit, refusing work');
        const inFlight = admission.inFlightMicros > 0 ? `$${formatMicrosAsUsd(admission.inFlightMicros)} estimated for requests in flight and ` : '';
        return refusal(frame, new GatewayError('credit_limit_exceeded', `Peer ${peerId} has ${inFlight}$${formatMicrosAsUsd(admission.owedMicros)} in unacknowledged receipts, over this node's credit limit; service resumes once they are acknowledged.`));
      }
      reservation = admission.reservation;
    }
    // Issued once the request ended, for whatever usage it incurred, whatever its final status: with the trailer,
    // when the requester reset the stream mid-answer, or when it reset before the head while this node's upstream
    // was already working (the upstream bills the input all the same). A requester is not served for free by
    // resetting: the receipt stays unacknowledged here, counts toward its credit limit, and reaches it through
    // reconciliation. The credit reservation ends once the receipt (or the lack of one) is settled.
    let finished: Outcome | undefined;
    // Decoded only if the pipeline estimated the usage (below): most answers report theirs.
    const sent = relayMeter(frame.format, frame.stream, { deferred: true });
    // The usage charged: the upstream's report or, where the pipeline could only estimate it (no usage reported, a
    // stream cut short), this node's measurement of the answer it sent, by the rule the requester measures with —
    // so an honest estimate stays within the requester's bound (protocol/receipts.md, "Usage bound").
    let chargedUsage: Promise<ReceiptPayload['usage'] | undefined> | undefined;
    const charged = () => (chargedUsage ??= (async () => {
      const usage = finished?.usage;
      if (!usage) return undefined;
      return finished?.usageEstimated ? { ...receiptUsage(usage), output: (await sent.result()).outputTokens } : receiptUsage(usage);
    })());
    let receipt: Promise<string | undefined> | undefined;
    const issueReceipt = () => (receipt ??= (async () => {
      try {
        const usage = await charged();
        if (!ledger || !usage || usage.input + usage.output === 0) return undefined;
        return await ledger.issue(peerId, frame.id, frame.model, usage, price);
      } catch (err) {
        logger.error({ err: (err as Error).message, requestId: frame.id }, 'mesh: could not issue a receipt');
        return undefined;
      } finally {
        reservation?.release();
      }
    })());
    let response: GatewayResponse;
    try {
      response = await pipeline.handle(req, { onFinish: (outcome) => (finished = outcome), assessed });
    } catch (err) {
      const error = toGatewayError(err);
      logger.info({ requestId: frame.id, peer: peerId, status: error.status, code: error.code }, 'mesh: forwarded request refused');
      void issueReceipt();
      return refusal(frame, error);
    }
    const outcome: Outcome = response.outcome;
    return {
      head: { status: response.status, headers: response.headers },
      body: responseBytes(response, frame.format, (bytes) => sent.feed(bytes), () => void issueReceipt()),
      trailer: async () => {
        const usage = await charged();
        const receipt = await issueReceipt();
        return {
          ...(usage ? { usage: { inputTokens: usage.input, outputTokens: usage.output, ...(usage.cached ? { cachedInputTokens: usage.cached } : {}) } } : {}),
          ...(outcome.provider ? { provider: outcome.provider } : {}),
          ...(outcome.model ? { model: outcome.model } : {}),
          ...(outcome.status >= 400 ? { error: { status: outcome.status, message: outcome.errorMessage ?? 'error' } } : {}),
          ...(receipt ? { receipt } : {}),
        };
      },
    };
  };
}
