import type { Operation, PrincipalRef, WireFormat } from '../core/index.js';
import type { Usage } from '../formats/canonical.js';
import type { AttemptRecord } from '../router/failover.js';

/** One client request as the pipeline sees it, whatever transport brought it (HTTP or a mesh stream). */
export interface GatewayRequest {
  id: string;
  format: WireFormat;
  operation: Operation;
  body: Record<string, unknown>;
  /** Requested model (from the body, or from the URL for Gemini). */
  model: string;
  stream: boolean;
  /** Aborts when the client goes away; everything upstream is cancelled with it. */
  signal: AbortSignal;
  principal: PrincipalRef;
  ip?: string;
  project?: string;
  source?: string;
  receivedAt: number;
  /** `anthropic-beta` of an Anthropic-format client: passed on to Anthropic providers, named in warnings otherwise. */
  anthropicBeta?: string;
  /** Routing profile named by the client (`x-meshgate-profile`, or the body's `meshgate.profile`). */
  profile?: string;
  /** Mesh hop bookkeeping: how many nodes this request already crossed and which ones. */
  hop: { count: number; visited: string[] };
  /** `x-meshgate-cache`: read and fill the response cache, fill it only, or leave it alone (default from the config). */
  cacheMode?: 'use' | 'refresh' | 'skip';
}

export type ResponseBody =
  | { kind: 'json'; value: unknown }
  /** Upstream bytes passed through untouched (same format in and out). */
  | { kind: 'bytes'; value: Uint8Array }
  /** SSE text/bytes in the client's format; an error thrown mid-way becomes an error event. */
  | { kind: 'sse'; events: AsyncGenerator<string | Uint8Array> };

export interface GatewayResponse {
  status: number;
  headers: Record<string, string>;
  body: ResponseBody;
  /** The request body as the pipeline sent it on (after sanitization): what may be kept of the request. */
  requestBody: Record<string, unknown>;
  /** The request's outcome, complete once the body has been consumed (usage of a stream arrives at its end). */
  outcome: Outcome;
}

/** Everything known about a request once it ended; feeds records, metrics, quota settlement and receipts. */
export interface Outcome {
  requestId: string;
  receivedAt: number;
  format: WireFormat;
  operation: Operation;
  requestedModel: string;
  model?: string;
  provider?: string;
  /** Peer id that served the request when it was forwarded through the mesh. */
  peer?: string;
  principal: PrincipalRef;
  ip?: string;
  project?: string;
  source?: string;
  stream: boolean;
  attempts: AttemptRecord[];
  status: number;
  errorType?: string;
  errorMessage?: string;
  usage?: Usage;
  /** True when the usage is the gateway's estimate rather than the provider's report. */
  usageEstimated?: boolean;
  ttftMs?: number;
  latencyMs?: number;
  /** Sanitization findings (type, location, action), never the matched text. */
  findings: Array<{ type: string; location: string; action: 'redacted' | 'blocked' }>;
  warnings: string[];
  /** The client went away before the response was complete. */
  clientAborted?: boolean;
  /** A request went out to a provider or peer (so the upstream may have processed, and billed, the input). */
  upstreamCalled?: boolean;
  /** The response cache was in play: answered from it (costs nothing), or served and stored. */
  cache?: 'hit' | 'miss';
  /** The routing profile the request was planned with. */
  profile?: string;
}
