import type { ProviderConfig, ProviderType } from '../core-config/index.js';
import type { Operation, Secret, WireFormat } from '../core/index.js';

export type { Operation } from '../core/index.js';

export interface UpstreamCall {
  operation: Operation;
  /** Upstream model name (after `model_map`). */
  model: string;
  stream: boolean;
  /** Body in the provider's own wire format. */
  body: Record<string, unknown>;
  /** Aborts the upstream request: client disconnect, deadline, or the router giving up. */
  signal: AbortSignal;
  /** A key chosen by a virtual key, replacing the configured one for this call. */
  apiKey?: Secret;
  /** The gateway request id, sent upstream as `x-request-id` for correlation. */
  requestId?: string;
  /** Wire format of `body` when the provider serves more than one for the operation (OpenAI chat or Responses). */
  format?: WireFormat;
  /** Client headers that belong to this provider's API and are passed on (e.g. `anthropic-beta`). */
  passHeaders?: Record<string, string>;
}

export interface UpstreamResponse {
  status: number;
  headers: Record<string, string>;
  /** The response body as it arrives; consuming it is the caller's job (or `text()`/`json()`). */
  body: AsyncIterable<Uint8Array>;
  text(): Promise<string>;
  json(): Promise<unknown>;
  /** Stops the body download (used when the client goes away). */
  abort(): void;
}

/**
 * What a provider adapter knows: where each operation lives and how to authenticate. Bodies are built by the
 * format codecs (src/formats); the adapter only moves bytes. Adding a provider means adding an endpoint spec here,
 * never touching the router.
 */
export interface ProviderEndpoints {
  format: WireFormat;
  operations: ReadonlySet<Operation>;
  /** Formats a model's chat is served in, preferred first (OpenAI: Chat Completions and/or Responses); default `[format]`. */
  chatFormats?(model: string): readonly WireFormat[];
  /** URL of an operation for a model (Gemini and Azure put the model or deployment in the path). */
  url(op: Operation, model: string, stream: boolean, format?: WireFormat): string;
  /** Authentication and protocol headers; the key never goes into a URL. */
  headers(apiKey: string | undefined): Record<string, string>;
  /** Model-list endpoint and how to read it, for discovery. */
  models?: { url: string; parse(body: unknown): string[] };
}

export interface Provider {
  readonly id: string;
  readonly type: ProviderType;
  readonly format: WireFormat;
  readonly config: ProviderConfig;
  supports(op: Operation): boolean;
  /**
   * The wire format to talk to this provider in for a chat with `model`: `preferred` (the client's, for pass-through)
   * when the provider serves the model in it, else the provider's first format for that model.
   */
  chatFormat(model: string, preferred: WireFormat): WireFormat;
  /** Sends one request. Resolves on a 2xx response (body not yet read); throws UpstreamError otherwise. */
  call(call: UpstreamCall): Promise<UpstreamResponse>;
  /** Lists the provider's models (discovery), bounded by `signal`. */
  discoverModels(signal: AbortSignal): Promise<string[]>;
  close(): Promise<void>;
}
