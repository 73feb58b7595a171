import Fastify, { LogController, type FastifyInstance, type FastifyPluginAsync, type FastifyReply, type FastifyRequest } from 'fastify';
import type { Logger } from 'pino';
import type { Config } from '../config/index.js';
import { keepJsonText, type PrincipalRef, type WireFormat } from '../core/index.js';
import { GatewayError, errorBody, toGatewayError, type ErrorCode } from '../errors/index.js';
import type { Pipeline } from '../pipeline/pipeline.js';
import './context.js';
import { checkBodyDepth } from './body-depth.js';
import { HttpDrain } from './drain.js';
import { newRequestId } from './request-id.js';
import { stripQueryKey } from './query-key.js';
import { requestChildLogger } from '../logging/request-child-logger.js';
import { chatRoutes } from './routes/chat.js';
import { healthRoute, infoRoutes, type InfoDeps } from './routes/info.js';
import { modelRoutes, wantsGemini } from './routes/models.js';
import { docsRoutes, type DocumentedRoute, type RouteAccess } from '../openapi/index.js';

export interface AppDeps {
  config: Config;
  logger: Logger;
  pipeline: Pipeline;
  info: InfoDeps;
  /** Establishes who is asking (throws 401/403); absent → every request is public. */
  authenticate?: (request: FastifyRequest) => Promise<PrincipalRef>;
  /** Guards operator routes (admin, stats); absent → they are open (a public node without access control). */
  authorizeAdmin?: (request: FastifyRequest) => Promise<void>;
  /** CORS: headers for a request's Origin, or undefined to send none (not asked for a request without an Origin). */
  corsHeaders?: (request: FastifyRequest) => Promise<Record<string, string> | undefined>;
  /** API routes that go through the same auth hook (e.g. mesh status). */
  apiPlugins?: FastifyPluginAsync[];
  /** Operator routes guarded by `authorizeAdmin`. */
  adminPlugins?: FastifyPluginAsync[];
  /** Routes outside /v1 with no auth (e.g. /metrics, which has its own guard if any). */
  openPlugins?: FastifyPluginAsync[];
  /**
   * A worker process (`server.workers` > 1): only the pipeline routes (chat, messages, Gemini, embeddings, …) are
   * served here; every other request — operator API, health, metrics, stored responses, the portal, unknown paths —
   * is handed whole to the node's primary process.
   */
  elsewhere?: (request: FastifyRequest, reply: FastifyReply) => void;
}

declare module 'fastify' {
  interface FastifyInstance {
    /**
     * Every route registered on the app: method, URL, who may call it (the scope it was registered in) and its
     * OpenAPI entry (`config.doc`). The route-guard and OpenAPI tests walk it; /openapi.json is built from it.
     */
    registeredRoutes: DocumentedRoute[];
    /** In-flight exchanges and the keep-alive sockets to close when the app closes. */
    drain: HttpDrain;
  }
}

/**
 * The wire format of a request's errors: its route's, else Gemini's under /v1beta (unknown routes there included, as
 * Gemini clients parse only their own error shape), else Anthropic's when `anthropic-version` is sent, else Gemini's
 * for a Gemini client on a route of no fixed format (the /v1 model look-ups `@google/genai` calls).
 */
function formatOf(request: FastifyRequest): WireFormat {
  if (/^\/v1beta(?:[/?]|$)/.test(request.url)) return 'gemini';
  return request.routeOptions.config?.format ?? (request.headers['anthropic-version'] ? 'anthropic' : wantsGemini(request) ? 'gemini' : 'openai');
}

/** A fastify route URL (`/v1/admin/tokens/:id`, `/*`) as a pattern for a request path. */
function routePattern(url: string): RegExp {
  const escaped = url.replace(/[.+?^${}()|[\]\\]/g, '\\$&').replace(/:[A-Za-z_][A-Za-z0-9_]*/g, '[^/]+').replace(/\*/g, '.*');
  return new RegExp(`^${escaped}$`);
}

/** Codes of refusals that say the calling page's origin is not allowed: such a page must not read the answer. */
const ORIGIN_REFUSALS = new Set<ErrorCode>(['origin_not_allowed', 'origin_required']);

/** The CORS headers that let a page read an answer, withdrawn when its origin turns out not to be allowed. */
const CORS_GRANTS = ['access-control-allow-origin', 'access-control-allow-credentials', 'access-control-expose-headers'];

function withdrawCors(reply: FastifyReply): void {
  for (const name of CORS_GRANTS) reply.removeHeader(name);
}

function sendError(request: FastifyRequest, reply: FastifyReply, err: unknown): void {
  const error = toGatewayError(err);
  // CORS headers set before authentication (the preflight-level answer) must not let a refused origin read why.
  if (ORIGIN_REFUSALS.has(error.code)) withdrawCors(reply);
  if (error.status >= 500) request.log.error({ err: error.cause ?? error, code: error.code }, error.message);
  else request.log.info({ code: error.code, status: error.status }, error.message);
  void reply.code(error.status).headers({ ...error.headers, 'x-request-id': request.id }).send(errorBody(formatOf(request), error));
}

/**
 * The HTTP face of a node. Every client API route lives inside one encapsulated plugin whose hooks run
 * auth (→ principal) before validation and the pipeline; operator routes live in another guarded by the admin key.
 */
export async function buildApp(deps: AppDeps): Promise<FastifyInstance> {
  const { config } = deps;
  const app = Fastify({
    loggerInstance: deps.logger,
    // The gateway logs one line per request itself (with provider, attempts, tokens); fastify's own two are noise.
    logController: new LogController({ disableRequestLogging: true }),
    childLoggerFactory: (logger, bindings, options) => requestChildLogger(logger as Logger, bindings, options),
    bodyLimit: config.server.body_limit,
    trustProxy: config.server.trust_proxy,
    genReqId: newRequestId,
    // Before routing, so the URL every later step sees (logs, errors, records) no longer holds a `?key=` credential.
    rewriteUrl: (raw) => stripQueryKey(raw),
    return503OnClosing: true,
    // Idle keep-alive sockets are closed at close(); the busy ones by the drain as their exchange ends.
    forceCloseConnections: 'idle',
    // Gemini puts the model in the path (`/v1beta/models/{model}:{method}`): room for the longest accepted model name.
    routerOptions: { maxParamLength: 512 },
    // Errors fastify raises before routing (bad URL, over-long parameter) get the same error shape as the rest.
    frameworkErrors: (err, request, reply) => sendError(request, reply, err),
  });

  // Declared, so fastify's request constructor makes them fields of every request: set later by the hooks, each would
  // be a new property on every request (a map transition and a grown property store), and each request of a route
  // would change shape halfway, which the sites that read it see.
  app.decorateRequest('principal', undefined);
  app.decorateRequest('clientSignal', undefined);
  app.decorateRequest('clientIp', undefined);
  const drain = new HttpDrain(app.server);
  app.decorate('drain', drain);
  // Hooks that run on every request finish without a promise where they can (a promise and a turn fewer each).
  app.addHook('onRequest', (_request, reply, done) => {
    drain.track(reply.raw);
    done();
  });
  app.addHook('preClose', async () => drain.start());
  // Routes the pipeline serves (chatRoutes); a worker hands every other request to its primary (`elsewhere`).
  const pipelineRoutes = new Set<string>();
  const { elsewhere } = deps;
  if (elsewhere) {
    app.addHook('onRequest', async (request, reply) => {
      if (pipelineRoutes.has(`${request.method} ${request.routeOptions.url}`)) return;
      reply.hijack();
      elsewhere(request, reply);
    });
  }

  const { corsHeaders } = deps;
  app.addHook('onRequest', (request, reply, done) => {
    // Without an Origin there are no CORS headers to look up (the policy answers none).
    if (!corsHeaders || !request.headers.origin) return done();
    corsHeaders(request).then((cors) => {
      if (cors) void reply.headers(cors);
      done();
    }, done);
  });

  // A body too deep to walk is the client's 400, found as it is parsed (before any hook, guard or handler reads it):
  // fastify's own JSON parser (its errors, its prototype-poisoning checks), with the depth check in the same step.
  const parseJson = app.getDefaultJsonParser('error', 'error');
  app.removeContentTypeParser('application/json');
  app.addContentTypeParser('application/json', { parseAs: 'string' }, (request, body, done) => {
    parseJson(request, body as string, (err, parsed) => {
      if (err) return done(err, undefined);
      try {
        checkBodyDepth(parsed);
      } catch (depthError) {
        return done(depthError as Error, undefined);
      }
      // The text is kept for a forward of the unchanged body (the parser skips a byte-order mark, JSON has none).
      keepJsonText(parsed, (body as string).charCodeAt(0) === 0xfeff ? (body as string).slice(1) : (body as string));
      done(null, parsed);
    });
  });
  app.setErrorHandler((err, request, reply) => sendError(request, reply, err));
  app.setNotFoundHandler((request, reply) => {
    const path = request.url.split('?')[0]!;
    // A path that exists for other methods is a wrong method (405 with Allow), not a missing route.
    const allowed = [...new Set(routes.filter((r) => r.method !== 'OPTIONS' && routePattern(r.url).test(path)).map((r) => r.method))];
    if (allowed.length > 0) {
      void reply.header('allow', allowed.join(', '));
      return sendError(request, reply, new GatewayError('method_not_allowed', `${request.method} is not allowed on ${path}; use ${allowed.join(' or ')}.`));
    }
    sendError(request, reply, new GatewayError('route_not_found', `No route for ${request.method} ${path}.`));
  });

  // CORS preflight: answered here (for allowed origins only) without touching auth or the pipeline.
  app.options('/*', async (request, reply) => {
    const cors = await deps.corsHeaders?.(request);
    if (!cors) return reply.code(403).send();
    return reply.code(204).headers({ ...cors, 'access-control-max-age': '600' }).send();
  });

  const routes: DocumentedRoute[] = [];
  // The root's hook sees every route, a guarded scope's hook its own: the stricter access wins, whichever runs first.
  const strictness: Record<RouteAccess, number> = { open: 0, client: 1, admin: 2 };
  const registered = (access: RouteAccess) => (route: { method: string | string[]; url: string; config?: { doc?: DocumentedRoute['doc'] } }) => {
    for (const method of [route.method].flat()) {
      if (method === 'HEAD') continue;
      const existing = routes.find((r) => r.method === method && r.url === route.url);
      if (existing && strictness[access] > strictness[existing.access]) existing.access = access;
      if (existing) continue;
      routes.push({ method, url: route.url, access, doc: route.config?.doc });
    }
  };
  app.addHook('onRoute', registered('open'));
  app.decorate('registeredRoutes', routes);

  await app.register(healthRoute(deps.info));
  await app.register(docsRoutes(() => routes));
  for (const plugin of deps.openPlugins ?? []) await app.register(plugin);

  await app.register(async (api) => {
    api.addHook('onRoute', registered('client'));
    const { authenticate } = deps;
    // With the principal known, CORS headers are granted only for origins its credential allows.
    const grantCors = async (request: FastifyRequest, reply: FastifyReply) => {
      const cors = await corsHeaders!(request);
      if (cors) void reply.headers(cors);
      else withdrawCors(reply);
    };
    // Callback-style like the root's hooks: the authentication's own promise is the only one per request.
    api.addHook('onRequest', (request, reply, done) => {
      const controller = new AbortController();
      request.clientSignal = controller.signal;
      reply.raw.on('close', () => {
        if (!reply.raw.writableFinished) controller.abort(new GatewayError('client_closed', 'Client closed the connection.'));
      });
      const authenticated = (principal: PrincipalRef) => {
        request.principal = principal;
        if (request.headers.origin && corsHeaders) grantCors(request, reply).then(() => done(), done);
        else done();
      };
      if (!authenticate) return authenticated({ kind: 'public' });
      let pending: Promise<PrincipalRef>;
      try {
        pending = authenticate(request);
      } catch (err) {
        return done(err as Error);
      }
      pending.then(authenticated, done);
    });
    await api.register(async (pipelineScope) => {
      pipelineScope.addHook('onRoute', (route) => {
        for (const method of [route.method].flat()) pipelineRoutes.add(`${method} ${route.url}`);
      });
      await pipelineScope.register(chatRoutes(deps.pipeline));
    });
    await api.register(infoRoutes(deps.info));
    await api.register(modelRoutes(deps.info));
    for (const plugin of deps.apiPlugins ?? []) await api.register(plugin);
  });

  await app.register(async (admin) => {
    admin.addHook('onRoute', registered('admin'));
    admin.addHook('onRequest', async (request) => {
      await deps.authorizeAdmin?.(request);
    });
    for (const plugin of deps.adminPlugins ?? []) await admin.register(plugin);
  });

  return app as unknown as FastifyInstance;
}
