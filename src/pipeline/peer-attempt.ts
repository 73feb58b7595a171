import type { RoutingConfig } from '../core-config/index.js';
import type { Operation, WireFormat } from '../core/index.js';
import type { CanonicalRequest } from '../formats/canonical.js';
import { GatewayError, UpstreamError, isRetryableStatus } from '../errors/index.js';
import type { ForwardRequestFrame, ForwardResult } from '../mesh/index.js';
import { answerableElsewhere, runFailover, type AttemptRecord } from '../router/failover.js';
import type { PeerPrice } from '../routing/index.js';
import { modelNotFound } from './model-not-found.js';
import type { Prepared } from './provider-attempt.js';
import { primeStream, type Meter } from './streaming.js';
import type { GatewayRequest } from './types.js';

/**
 * A peer's answer as the mesh's forward client delivers it (protocol/forward.md): the head, the body in the client's
 * own format (the serving node ran its full pipeline) and the trailer with the usage it claims.
 */
export type PeerResponse = Omit<ForwardResult, 'peerId'>;

/** What the pipeline needs from the mesh; implemented over MeshNode in mesh/. */
export interface PeerForwarder {
  readonly selfId: string;
  /** Forwarding is enabled and this request has hops left. */
  canForward(req: GatewayRequest): boolean;
  /** Peers serving `model`, best first, never `exclude`d ones; only those `accept` takes, when given. */
  candidates(model: string, exclude: string[], signal: AbortSignal, accept?: (peerId: string) => boolean): Promise<string[]>;
  /** The prices peers advertise for `model` in their signed records (the routing engine's pricing filter reads them). */
  prices?(model: string): PeerPrice[];
  /**
   * `canonical`: the canonical form this node already made of the chat request the frame carries, so the forwarder
   * does not build it again for the usage bound it checks the peer's claims against (absent: it builds its own).
   */
  forward(peerId: string, frame: ForwardRequestFrame, signal: AbortSignal, canonical?: CanonicalRequest): Promise<PeerResponse>;
}

const DEFAULT_DEADLINE_MS = 600_000;

const MEDIA_TYPE = /^(application|text)\/[\w.+-]+(; *[\w-]+=[\w.-]+)*$/;

/** An error answer from a peer is read up to this much (enough for any error body). */
const MAX_PEER_ERROR_BYTES = 64 * 1024;
/** A complete (non-streamed) answer from a peer is held up to this much before it reaches the client. */
const MAX_PEER_BODY_BYTES = 64 * 1024 * 1024;

/** Reads a peer's body to its end, or up to `limit` bytes (then `truncated`; the rest is not read). */
async function collect(body: AsyncIterable<Uint8Array>, limit: number): Promise<{ bytes: Buffer; truncated: boolean }> {
  const chunks: Uint8Array[] = [];
  let size = 0;
  for await (const chunk of body) {
    size += chunk.byteLength;
    if (size > limit) return { bytes: Buffer.concat(chunks), truncated: true };
    chunks.push(chunk);
  }
  return { bytes: Buffer.concat(chunks), truncated: false };
}

function peerMessage(text: string): string {
  try {
    const json = JSON.parse(text) as { error?: { message?: string } };
    return json.error?.message ?? text.slice(0, 300);
  } catch {
    return text.slice(0, 300);
  }
}

/**
 * Forwards a request to mesh peers that serve the model, best first, moving on while nothing has reached the client.
 * The body travels in the client's format, already sanitized by this node; the peer answers in that same format.
 */
export async function attemptPeer(
  peers: PeerForwarder, req: GatewayRequest, meter: Meter, routing: RoutingConfig, attempts: AttemptRecord[], localError?: GatewayError,
  accept?: (peerId: string) => boolean, canonical?: CanonicalRequest,
): Promise<{ prepared: Prepared; peerId: string; provider?: string; model?: string }> {
  const exclude = [peers.selfId, ...req.hop.visited];
  // Nothing about who asked this node (token id, virtual key, IP, project) goes to the peer: it serves this node,
  // and the request id is this node's own random id (protocol/forward.md, "Request").
  const frame: ForwardRequestFrame = {
    id: req.id, format: req.format, operation: req.operation, model: req.model, stream: req.stream, body: req.body,
    hop: req.hop.count + 1, visited: [...req.hop.visited, peers.selfId], deadline: req.receivedAt + DEFAULT_DEADLINE_MS,
  };
  // The peers this node already knows come first; when every one of them failed, the search widens once (the
  // finder then asks the DHT for others) before the request fails.
  let lastError: unknown;
  for (let round = 0; round < 2; round++) {
    const candidates = await peers.candidates(req.model, exclude, req.signal, accept);
    if (candidates.length === 0) break;
    // max_attempts bounds local and peer attempts together (runFailover counts the shared `attempts`).
    if (attempts.length >= routing.max_attempts) break;
    try {
      return await forwardToOneOf(peers, candidates, frame, req, meter, routing, attempts, req.operation === 'chat' ? canonical : undefined);
    } catch (err) {
      if (req.signal.aborted || !answerableElsewhere(err)) throw err;
      lastError = err;
      exclude.push(...candidates);
    }
  }
  if (lastError) throw lastError;
  if (localError) throw localError;
  throw modelNotFound(req.model, { meshSearched: true });
}

async function forwardToOneOf(
  peers: PeerForwarder, candidates: string[], frame: ForwardRequestFrame, req: GatewayRequest, meter: Meter, routing: RoutingConfig, attempts: AttemptRecord[],
  canonical: CanonicalRequest | undefined,
): Promise<{ prepared: Prepared; peerId: string; provider?: string; model?: string }> {
  const targets = candidates.map((peerId) => ({ id: `peer:${peerId}`, retries: 0, peerId }));
  const result = await runFailover(targets, async (target) => {
    let response: PeerResponse;
    try {
      response = await peers.forward(target.peerId, frame, req.signal, canonical);
    } catch (err) {
      if (err instanceof GatewayError) throw err;
      throw new UpstreamError(target.id, `Peer ${target.peerId}: ${(err as Error).message}`, { retryable: true, code: 'peer_unavailable', cause: err });
    }
    const { status, headers } = response.head;
    if (status >= 400) {
      // What the peer managed to say before its stream broke (if it did) is enough for the error message.
      const text = (await collect(response.body, MAX_PEER_ERROR_BYTES).catch(() => ({ bytes: Buffer.from('the peer\'s stream broke') }))).bytes.toString('utf8');
      throw new UpstreamError(target.id, `Peer ${target.peerId} answered ${status}: ${peerMessage(text)}`, {
        upstreamStatus: status, retryable: isRetryableStatus(status), code: status === 404 ? 'peer_model_not_found' : 'peer_error',
      });
    }
    // The only peer header passed on to the client: taken only if it is a plain media type.
    const peerType = headers['content-type'];
    const contentType = typeof peerType === 'string' && MEDIA_TYPE.test(peerType) ? peerType : req.stream ? 'text/event-stream; charset=utf-8' : 'application/json';
    const trailer = response.trailer.then((t) => {
      if (t.usage) meter.usage = t.usage;
      return t;
    });
    // A peer that breaks mid-response fails both its body and its trailer; the body's error is the one reported.
    trailer.catch(() => undefined);
    if (!req.stream) {
      // Nothing has reached the client yet: a peer that breaks here is a failed attempt, and the next peer is tried.
      const { bytes, truncated } = await collect(response.body, MAX_PEER_BODY_BYTES).catch((err: unknown) => {
        throw new UpstreamError(target.id, `Peer ${target.peerId}: its stream broke before the answer was complete`, { retryable: true, code: 'peer_unavailable', cause: err });
      });
      if (truncated) {
        throw new UpstreamError(target.id, `Peer ${target.peerId} sent an answer larger than ${MAX_PEER_BODY_BYTES / 1024 / 1024} MiB`, { retryable: true, code: 'peer_error' });
      }
      const t = await trailer;
      meter.ttftMs = performance.now() - meter.startedAt;
      return { prepared: { body: { kind: 'bytes' as const, value: bytes }, warnings: [], contentType }, trailer: t };
    }
    const events = (async function* () {
      let first = true;
      for await (const chunk of response.body) {
        if (first) meter.ttftMs = performance.now() - meter.startedAt;
        first = false;
        yield chunk;
      }
      await trailer;
    })();
    const primed = await primeStream(events);
    return { prepared: { body: { kind: 'sse' as const, events: primed }, warnings: [], contentType }, trailer: undefined };
  }, { maxAttempts: routing.max_attempts, maxRetryWaitMs: routing.max_retry_wait_ms, backoffMs: routing.backoff_ms, signal: req.signal, attempts });
  const peerId = result.target.peerId;
  return { prepared: result.value.prepared, peerId, provider: result.value.trailer?.provider, model: result.value.trailer?.model ?? req.model };
}
