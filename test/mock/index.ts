/**
 * A mock upstream that speaks the real wire formats of OpenAI (Chat Completions, the Responses API, Azure OpenAI
 * paths), Anthropic and Gemini —
 * JSON and SSE — faithfully enough that the official SDKs work against it, with scripted failures for tests; and
 * the cloud hosts of those models: AWS Bedrock Converse (JSON and event-stream, SigV4 verified, or an API key) and
 * Google Vertex AI (Gemini and Claude, OAuth bearer tokens from its own service-account token endpoint).
 * Built on node:http with no per-request logging: it is also the baseline of the benchmarks.
 */
import { createServer, type IncomingMessage, type ServerResponse } from 'node:http';
import type { AddressInfo, Socket } from 'node:net';
import { checkAwsAuth, DEFAULT_AWS, type MockAwsCredentials } from './aws-sigv4.js';
import { decideReply, pieces, readConversation, usageFor, type ProviderFormat } from './conversation.js';
import { createMockGoogle, TOKEN_PATH, type MockGoogle } from './google-oauth.js';
import { BEDROCK_ERROR_TYPES, bedrockEventMessage, errorBody, jsonResponse, outputPieceCount, streamFrames } from './wire.js';

export { MOCK_PROJECT } from './google-oauth.js';
export type { MockAwsCredentials } from './aws-sigv4.js';

export interface MockUpstreamOptions {
  apiKey?: string;
  /** More keys the OpenAI-format routes accept besides `apiKey` (a provider with several keys). */
  extraKeys?: string[];
  /**
   * Chat body fields the OpenAI-format routes refuse with a 400, as a strict OpenAI-compatible server does (Mistral's
   * 422 on unknown fields, Groq's 400 on `logprobs`): for testing a preset's quirks.
   */
  refuseFields?: string[];
  models?: string[];
  host?: string;
  /** The AWS credentials Bedrock requests must be signed with (or the API key they may carry). */
  aws?: Partial<MockAwsCredentials>;
  /** false: `requests` stays empty (a benchmark's long run would otherwise keep every body it was sent). */
  recordRequests?: boolean;
}

export interface RecordedRequest {
  method: string;
  path: string;
  query: Record<string, string>;
  headers: Record<string, string | string[] | undefined>;
  body: any; // eslint-disable-line @typescript-eslint/no-explicit-any
  at: number;
}

export type MockBehaviour =
  /** A normal answer, after `delayMs` (an upstream's own latency). */
  | { kind: 'ok'; delayMs?: number }
  | { kind: 'error'; status: number; retryAfter?: number; message?: string }
  | { kind: 'hang' }
  | { kind: 'hang_after_headers' }
  | { kind: 'reset' }
  /** 200 with a body that is not JSON (a proxy's HTML error page, a truncated body). */
  | { kind: 'malformed' }
  | { kind: 'slow'; chunkDelayMs: number }
  | { kind: 'fail_mid_stream'; afterChunks: number }
  /** Bedrock only: an exception message (e.g. modelStreamErrorException) in the event stream after `afterChunks` events. */
  | { kind: 'stream_exception'; exception: string; message?: string; afterChunks: number }
  | { kind: 'text'; text: string }
  | { kind: 'tool_call'; name?: string; arguments: Record<string, unknown> }
  /**
   * The usual answer, preceded by reasoning with this text and opaque state: an Anthropic thinking block with this
   * signature, a Responses reasoning item with it as `encrypted_content` (whatever the request asked for).
   */
  | { kind: 'thinking'; thinking: string; signature: string };

export interface MockUpstream {
  url: string;
  openaiBaseUrl: string;
  anthropicBaseUrl: string;
  geminiBaseUrl: string;
  azureEndpoint: string;
  /** Bedrock runtime endpoint (base_url of a bedrock provider) and the credentials it verifies. */
  bedrockEndpoint: string;
  aws: MockAwsCredentials;
  /** Vertex AI endpoint (base_url of a vertex provider), its OAuth token endpoint and service account. */
  vertexEndpoint: string;
  google: MockGoogle;
  requests: RecordedRequest[];
  enqueue(...behaviours: MockBehaviour[]): void;
  /** Answers every request carrying this key with 429 (and `Retry-After`, in seconds) until `clearRateLimit`. */
  rateLimitKey(key: string, retryAfterSeconds?: number): void;
  clearRateLimit(key: string): void;
  setDefault(behaviour: MockBehaviour): void;
  reset(): void;
  inFlight(): number;
  abortedByClient(): number;
  waitForRequests(n: number, timeoutMs?: number): Promise<void>;
  close(): Promise<void>;
}

/**
 * What Bedrock refuses (400 ValidationException) in Claude's extended thinking, as Anthropic's rules have it: a model
 * without thinking, a budget under 1,024, an output limit not above the budget, a temperature set alongside.
 */
function bedrockThinkingProblem(model: string, body: any): string | undefined { // eslint-disable-line @typescript-eslint/no-explicit-any
  const thinking = body?.additionalModelRequestFields?.thinking;
  if (thinking?.type !== 'enabled') return undefined;
  if (!/anthropic\.claude-(3-7|sonnet-4|opus-4|haiku-4)/.test(model)) return 'The model returned the following errors: extended thinking is not supported for this model';
  const budget = thinking.budget_tokens;
  const max = body.inferenceConfig?.maxTokens;
  if (typeof budget !== 'number' || budget < 1024) return 'The model returned the following errors: thinking.enabled.budget_tokens: Input should be greater than or equal to 1024';
  if (typeof max !== 'number' || max <= budget) return 'The model returned the following errors: `max_tokens` must be greater than `thinking.budget_tokens`';
  if (body.inferenceConfig?.temperature !== undefined && body.inferenceConfig.temperature !== 1) return 'The model returned the following errors: `temperature` may only be set to 1 when thinking is enabled';
  return undefined;
}

type Operation = 'chat' | 'embeddings' | 'count_tokens' | 'models' | 'token';
interface Route {
  format: ProviderFormat;
  operation: Operation;
  model?: string;
  stream?: boolean;
  azure?: boolean;
  /** Which cloud host serves the route: its authentication and its body rules. */
  cloud?: 'bedrock' | 'vertex';
  project?: string;
  region?: string;
}

const DEFAULT_MODELS = ['gpt-4o', 'gpt-4o-mini', 'text-embedding-3-small', 'claude-sonnet-4-5', 'gemini-2.5-flash'];

function route(method: string, path: string, query: URLSearchParams): Route | undefined {
  if (method === 'GET' && path === '/v1/models') return { format: 'openai', operation: 'models' };
  if (method === 'GET' && path === '/v1beta/models') return { format: 'gemini', operation: 'models' };
  if (method !== 'POST') return undefined;
  if (path === TOKEN_PATH) return { format: 'gemini', operation: 'token' };
  // Bedrock runtime: the model id (or inference profile ARN) is percent-encoded in the path.
  const bedrock = /^\/model\/([^/]+)\/(converse|converse-stream)$/.exec(path);
  if (bedrock) return { format: 'bedrock', operation: 'chat', model: decodeURIComponent(bedrock[1]!), stream: bedrock[2] === 'converse-stream', cloud: 'bedrock' };
  const vertex = /^\/v1\/projects\/([^/]+)\/locations\/([^/]+)\/publishers\/(google|anthropic)\/models\/([^/:]+):(generateContent|streamGenerateContent|rawPredict|streamRawPredict)$/.exec(path);
  if (vertex) {
    const [, project, region, publisher, model, action] = vertex;
    const stream = publisher === 'google' ? action === 'streamGenerateContent' && query.get('alt') === 'sse' : action === 'streamRawPredict';
    if ((publisher === 'google') !== action!.endsWith('Content')) return undefined;
    return { format: publisher === 'google' ? 'gemini' : 'anthropic', operation: 'chat', model: decodeURIComponent(model!), stream, cloud: 'vertex', project, region };
  }
  if (path === '/v1/chat/completions') return { format: 'openai', operation: 'chat' };
  if (path === '/v1/responses') return { format: 'responses', operation: 'chat' };
  if (path === '/v1/embeddings') return { format: 'openai', operation: 'embeddings' };
  if (path === '/v1/messages') return { format: 'anthropic', operation: 'chat' };
  if (path === '/v1/messages/count_tokens') return { format: 'anthropic', operation: 'count_tokens' };
  const azure = /^\/openai\/deployments\/([^/]+)\/(chat\/completions|embeddings)$/.exec(path);
  if (azure) return { format: 'openai', operation: azure[2] === 'embeddings' ? 'embeddings' : 'chat', model: decodeURIComponent(azure[1]!), azure: true };
  const gemini = /^\/v1beta\/models\/([^/:]+):(generateContent|streamGenerateContent|embedContent|batchEmbedContents|countTokens)$/.exec(path);
  if (gemini) {
    const method = gemini[2]!;
    const operation: Operation = method.endsWith('Content') && method.includes('enerate') ? 'chat' : method === 'countTokens' ? 'count_tokens' : 'embeddings';
    return { format: 'gemini', operation, model: decodeURIComponent(gemini[1]!), stream: method === 'streamGenerateContent' && query.get('alt') === 'sse' };
  }
  return undefined;
}

/** Whether the request carries the key the way that provider expects it; undefined when it does. */
function authProblem(r: Route, headers: IncomingMessage['headers'], query: URLSearchParams, key: string, keys: readonly string[]): { status: number; message: string } | undefined {
  if (r.operation === 'token') return undefined;
  if (r.azure) {
    if (!query.get('api-version')) return { status: 400, message: 'Missing required query parameter: api-version' };
    return headers['api-key'] === key ? undefined : { status: 401, message: 'Access denied due to invalid subscription key.' };
  }
  if (r.format === 'openai' || r.format === 'responses') return keys.some((k) => headers.authorization === `Bearer ${k}`) ? undefined : { status: 401, message: 'Incorrect API key provided.' };
  if (r.format === 'anthropic') {
    if (headers['x-api-key'] !== key) return { status: 401, message: 'invalid x-api-key' };
    return headers['anthropic-version'] ? undefined : { status: 400, message: 'anthropic-version: header is required' };
  }
  return headers['x-goog-api-key'] === key || query.get('key') === key ? undefined : { status: 401, message: 'API key not valid. Please pass a valid API key.' };
}

/**
 * What Anthropic refuses about extended thinking (https://docs.claude.com/en/docs/build-with-claude/extended-thinking):
 * a budget under 1,024 or not below max_tokens, temperature or top_k changes, a forced tool choice, and a tool result
 * answering a call whose turn does not start with its thinking block.
 */
function anthropicThinkingProblem(body: any): string | undefined { // eslint-disable-line @typescript-eslint/no-explicit-any
  if (body?.thinking?.type !== 'enabled') return undefined;
  const budget = body.thinking.budget_tokens;
  if (typeof budget !== 'number' || budget < 1024) return 'thinking.budget_tokens: Input should be greater than or equal to 1024';
  if (budget >= body.max_tokens) return '`max_tokens` must be greater than `thinking.budget_tokens`';
  if (body.temperature !== undefined || body.top_k !== undefined) return 'temperature and top_k may not be set when thinking is enabled';
  if (body.tool_choice?.type === 'any' || body.tool_choice?.type === 'tool') return 'Thinking may not be enabled when tool_choice forces tool use.';
  const [call, result] = (body.messages ?? []).slice(-2);
  const answersCall = result?.role === 'user' && Array.isArray(result.content) && result.content.some((b: { type: string }) => b.type === 'tool_result');
  if (answersCall && call?.role === 'assistant' && !['thinking', 'redacted_thinking'].includes(call.content?.[0]?.type)) {
    return 'messages.1.content.0.type: Expected `thinking` or `redacted_thinking`, but found `tool_use`.';
  }
  return undefined;
}

/** A deterministic unit-ish vector for a text, so embeddings are stable across runs. */
function vector(text: string, dimensions: number): number[] {
  let seed = 2166136261;
  for (let i = 0; i < text.length; i++) seed = Math.imul(seed ^ text.charCodeAt(i), 16777619);
  return Array.from({ length: dimensions }, (_, i) => (((Math.imul(seed, i + 1) >>> 0) % 2000) - 1000) / 1000);
}

const sleep = (ms: number) => new Promise((resolve) => setTimeout(resolve, ms));

export async function startMockUpstream(options: MockUpstreamOptions = {}): Promise<MockUpstream> {
  const key = options.apiKey ?? 'test-key';
  const models = options.models ?? DEFAULT_MODELS;
  const requests: RecordedRequest[] = [];
  let queue: MockBehaviour[] = [];
  let fallback: MockBehaviour = { kind: 'ok' };
  const rateLimited = new Map<string, number | undefined>();
  let active = 0;
  let aborted = 0;
  const sockets = new Set<Socket>();
  const hanging = new Set<ServerResponse>();
  const waiters = new Set<() => void>();

  function send(res: ServerResponse, status: number, body: unknown, headers: Record<string, string> = {}): void {
    const text = JSON.stringify(body);
    res.writeHead(status, { 'content-type': 'application/json', 'content-length': Buffer.byteLength(text), ...headers });
    res.end(text);
  }

  async function serveChat(r: Route, body: any, res: ServerResponse, behaviour: MockBehaviour, isClosed: () => boolean): Promise<void> { // eslint-disable-line @typescript-eslint/no-explicit-any
    const model = r.model ?? body.model ?? 'unknown';
    const conv = readConversation(r.format, body);
    const provider = r.azure ? 'azure' : r.cloud === 'vertex' ? `vertex-${r.format}` : r.cloud ?? r.format;
    let reply = decideReply(provider, model, conv);
    if (behaviour.kind === 'text') reply = { kind: 'text', text: behaviour.text, stop: 'stop' };
    if (behaviour.kind === 'tool_call') reply = { kind: 'tool_call', name: behaviour.name ?? conv.toolNames[0] ?? 'tool', arguments: behaviour.arguments };
    if (behaviour.kind === 'thinking') reply = { ...reply, reasoning: { text: behaviour.thinking, visible: true, signature: behaviour.signature } };
    const usage = usageFor(conv, outputPieceCount(reply), reply.reasoning ? pieces(reply.reasoning.text).length : 0);
    const stream = r.stream ?? body.stream === true;
    if (!stream) return send(res, 200, jsonResponse(r.format, model, reply, usage, body));

    const contentType = r.format === 'bedrock' ? 'application/vnd.amazon.eventstream' : 'text/event-stream';
    res.writeHead(200, { 'content-type': contentType, 'cache-control': 'no-cache', connection: 'keep-alive' });
    res.flushHeaders();
    if (behaviour.kind === 'hang_after_headers') {
      hanging.add(res);
      return;
    }
    const frames = streamFrames(r.format, model, reply, usage, { includeUsage: body.stream_options?.include_usage === true, request: body });
    for (let i = 0; i < frames.length; i++) {
      if (isClosed()) return;
      if (behaviour.kind === 'fail_mid_stream' && i === behaviour.afterChunks) {
        // Let the frames already written reach the client first: a reset in the same tick can make the client's
        // HTTP stack drop data it had buffered, which would turn this into a failure before the first byte.
        await new Promise<void>((resolve) => res.write('', () => resolve()));
        await sleep(50);
        res.socket?.destroy();
        return;
      }
      if (behaviour.kind === 'stream_exception' && i === behaviour.afterChunks) {
        res.end(bedrockEventMessage('exception', behaviour.exception, { message: behaviour.message ?? `mock ${behaviour.exception}` }));
        return;
      }
      res.write(frames[i]);
      if (behaviour.kind === 'slow' && i < frames.length - 1) await sleep(behaviour.chunkDelayMs);
    }
    res.end();
  }

  function serveEmbeddings(r: Route, body: any, res: ServerResponse): void { // eslint-disable-line @typescript-eslint/no-explicit-any
    if (r.format === 'openai') {
      const inputs: string[] = typeof body.input === 'string' ? [body.input] : body.input.map((i: unknown) => (typeof i === 'string' ? i : JSON.stringify(i)));
      const dims = body.dimensions ?? 8;
      const tokens = inputs.reduce((n, t) => n + Math.max(1, Math.ceil(t.length / 4)), 0);
      return send(res, 200, {
        object: 'list',
        data: inputs.map((text, index) => {
          const values = vector(text, dims);
          return { object: 'embedding', index, embedding: body.encoding_format === 'base64' ? Buffer.from(new Float32Array(values).buffer).toString('base64') : values };
        }),
        model: r.model ?? body.model,
        usage: { prompt_tokens: tokens, total_tokens: tokens },
      });
    }
    const requestsIn: any[] = body.requests ?? [body]; // eslint-disable-line @typescript-eslint/no-explicit-any
    const embeddings = requestsIn.map((q) => ({ values: vector((q.content?.parts ?? []).map((p: { text?: string }) => p.text ?? '').join(''), q.outputDimensionality ?? 8) }));
    return send(res, 200, body.requests ? { embeddings } : { embedding: embeddings[0] });
  }

  function serveCount(r: Route, body: any, res: ServerResponse): void { // eslint-disable-line @typescript-eslint/no-explicit-any
    const conv = readConversation(r.format, r.format === 'gemini' ? body.generateContentRequest ?? body : body);
    const tokens = usageFor(conv, 0).input;
    return send(res, 200, r.format === 'gemini' ? { totalTokens: tokens } : { input_tokens: tokens });
  }

  let google: MockGoogle | undefined;
  const aws: MockAwsCredentials = { ...DEFAULT_AWS, ...options.aws };

  /** The refusal a cloud host sends for this request's credentials or body, written; true when one was sent. */
  async function refusedByCloud(r: Route, req: IncomingMessage, url: URL, text: string, body: any, res: ServerResponse): Promise<boolean> { // eslint-disable-line @typescript-eslint/no-explicit-any
    if (r.cloud === 'bedrock') {
      const rawPath = (req.url ?? '/').split('?', 1)[0]!;
      const refusal = await checkAwsAuth(aws, { method: req.method ?? 'POST', rawPath, query: url.searchParams, headers: req.headers, body: text });
      if (refusal) send(res, refusal.status, { message: refusal.message }, { 'x-amzn-errortype': `${refusal.errorType}:http://internal.amazon.com/coral/com.amazon.coral.service/` });
      if (refusal) return true;
      const problem = bedrockThinkingProblem(r.model ?? '', body);
      if (problem) send(res, 400, { message: problem }, { 'x-amzn-errortype': 'ValidationException:http://internal.amazon.com/coral/com.amazon.coral.service/' });
      return problem !== undefined;
    }
    if (r.cloud === 'vertex') {
      if (!google!.bearerValid(req.headers.authorization)) {
        send(res, 401, errorBody('gemini', 401, 'Request had invalid authentication credentials. Expected OAuth 2 access token, login cookie or other valid authentication credential.'));
        return true;
      }
      // Claude on Vertex: the model is in the URL and anthropic_version is Vertex's own; a Gemini content needs a role.
      const problem = r.format === 'anthropic'
        ? body?.anthropic_version !== 'vertex-2023-10-16' ? 'anthropic_version: Input should be \'vertex-2023-10-16\'' : body?.model !== undefined ? 'model: Extra inputs are not permitted' : undefined
        : (body?.contents ?? []).some((c: { role?: unknown }) => c.role !== 'user' && c.role !== 'model') ? 'Please use a valid role: user, model.' : undefined;
      if (problem) send(res, 400, r.format === 'anthropic' ? errorBody('anthropic', 400, problem) : errorBody('gemini', 400, problem));
      return problem !== undefined;
    }
    return false;
  }

  const server = createServer((req, res) => {
    const url = new URL(req.url ?? '/', 'http://mock');
    const chunks: Buffer[] = [];
    req.on('data', (c: Buffer) => chunks.push(c));
    req.on('end', () => void handle().catch((err: Error) => {
      if (!res.headersSent) send(res, 500, { error: { message: `mock failure: ${err.message}` } });
      else res.destroy();
    }));
    const handle = async () => {
      const text = Buffer.concat(chunks).toString('utf8');
      let body: unknown = undefined;
      try {
        body = text ? JSON.parse(text) : undefined;
      } catch {
        body = text;
      }
      if (options.recordRequests !== false) {
        requests.push({ method: req.method ?? 'GET', path: url.pathname, query: Object.fromEntries(url.searchParams), headers: req.headers, body, at: Date.now() });
        for (const wake of waiters) wake();
      }
      const r = route(req.method ?? 'GET', url.pathname, url.searchParams);
      if (!r) return send(res, 404, { error: { message: `mock: no route ${req.method} ${url.pathname}` } });
      if (r.operation === 'token') {
        const answer = await google!.exchange(new URLSearchParams(text));
        return send(res, answer.status, answer.body);
      }
      if (r.cloud) {
        if (await refusedByCloud(r, req, url, text, body, res)) return;
      } else {
        const problem = authProblem(r, req.headers, url.searchParams, key, [key, ...(options.extraKeys ?? [])]);
        if (problem) return send(res, problem.status, errorBody(r.format, problem.status, problem.message));
        const limited = [...rateLimited.entries()].find(([k]) => req.headers.authorization === `Bearer ${k}`);
        if (limited) {
          return send(res, 429, errorBody(r.format, 429, 'Rate limit reached for requests'), limited[1] !== undefined ? { 'retry-after': String(limited[1]) } : {});
        }
        const refused = r.format === 'openai' && r.operation === 'chat' ? options.refuseFields?.find((f) => body && typeof body === 'object' && f in body) : undefined;
        if (refused) return send(res, 400, errorBody('openai', 400, `Unrecognized request argument supplied: ${refused}`));
      }
      if (r.operation === 'models') {
        return r.format === 'gemini'
          ? send(res, 200, { models: models.map((m) => ({ name: `models/${m}`, displayName: m, supportedGenerationMethods: ['generateContent'] })) })
          : send(res, 200, { object: 'list', data: models.map((m) => ({ id: m, object: 'model', created: 1_700_000_000, owned_by: 'mock' })) });
      }
      const refusal = r.operation === 'chat' && r.format === 'anthropic' ? anthropicThinkingProblem(body) : undefined;
      if (refusal) return send(res, 400, errorBody('anthropic', 400, refusal));
      const behaviour = queue.shift() ?? fallback;
      if (behaviour.kind === 'reset') return void req.socket.destroy();
      if (behaviour.kind === 'malformed') {
        res.writeHead(200, { 'content-type': 'application/json' });
        return void res.end('<html><body>502 Bad Gateway</body></html>');
      }
      if (behaviour.kind === 'error') {
        const headers: Record<string, string> = behaviour.retryAfter !== undefined ? { 'retry-after': String(behaviour.retryAfter) } : {};
        if (r.format === 'bedrock') headers['x-amzn-errortype'] = `${BEDROCK_ERROR_TYPES[behaviour.status] ?? 'InternalServerException'}:http://internal.amazon.com/coral/com.amazon.coral.service/`;
        return send(res, behaviour.status, errorBody(r.format, behaviour.status, behaviour.message ?? `mock error ${behaviour.status}`), headers);
      }
      active += 1;
      let closed = false;
      let finished = false;
      res.on('close', () => {
        closed = true;
        active -= 1;
        hanging.delete(res);
        if (!finished && !res.writableFinished) aborted += 1;
      });
      res.on('finish', () => {
        finished = true;
      });
      if (behaviour.kind === 'hang') {
        hanging.add(res);
        return;
      }
      const serve = () => {
        if (closed) return;
        return r.operation === 'chat' ? serveChat(r, body, res, behaviour, () => closed)
          : r.operation === 'embeddings' ? serveEmbeddings(r, body, res)
          : serveCount(r, body, res);
      };
      const work = behaviour.kind === 'ok' && behaviour.delayMs ? sleep(behaviour.delayMs).then(serve) : Promise.resolve().then(serve);
      work.catch((err: Error) => {
        if (!res.headersSent) send(res, 500, errorBody(r.format, 500, `mock failure: ${err.message}`));
        else res.destroy();
      });
    };
  });
  server.keepAliveTimeout = 30_000;
  server.on('connection', (socket) => {
    sockets.add(socket);
    socket.on('close', () => sockets.delete(socket));
  });
  await new Promise<void>((resolve) => server.listen(0, options.host ?? '127.0.0.1', resolve));
  const { port } = server.address() as AddressInfo;
  const url = `http://${options.host ?? '127.0.0.1'}:${port}`;
  google = await createMockGoogle(`${url}${TOKEN_PATH}`);

  return {
    url,
    openaiBaseUrl: `${url}/v1`,
    anthropicBaseUrl: url,
    geminiBaseUrl: `${url}/v1beta`,
    azureEndpoint: url,
    bedrockEndpoint: url,
    aws,
    vertexEndpoint: url,
    google,
    requests,
    enqueue: (...behaviours) => void queue.push(...behaviours),
    rateLimitKey: (limitedKey, retryAfterSeconds) => void rateLimited.set(limitedKey, retryAfterSeconds),
    clearRateLimit: (limitedKey) => void rateLimited.delete(limitedKey),
    setDefault: (behaviour) => void (fallback = behaviour),
    reset: () => {
      requests.length = 0;
      queue = [];
      fallback = { kind: 'ok' };
      rateLimited.clear();
      aborted = 0;
    },
    inFlight: () => active,
    abortedByClient: () => aborted,
    waitForRequests: (n, timeoutMs = 5_000) =>
      new Promise<void>((resolve, reject) => {
        const check = () => {
          if (requests.length < n) return;
          clearTimeout(timer);
          waiters.delete(check);
          resolve();
        };
        const timer = setTimeout(() => {
          waiters.delete(check);
          reject(new Error(`mock: only ${requests.length} of ${n} requests within ${timeoutMs} ms`));
        }, timeoutMs);
        waiters.add(check);
        check();
      }),
    close: async () => {
      for (const res of hanging) res.destroy();
      for (const socket of sockets) socket.destroy();
      await new Promise<void>((resolve) => server.close(() => resolve()));
    },
  };
}
