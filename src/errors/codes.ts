/**
 * Every error code meshgate sends, once: its HTTP status, its error type (OpenAI's `error.type`; Anthropic and
 * Gemini clients get the closest type or status of their own, see ./wire.ts) and what it means. A `GatewayError` is
 * built from a code and takes its status and type from here; the README's error table is generated from this one
 * (`npm run docs:errors`), and a test fails when the two disagree.
 *
 * A code marked `relayed` may carry another status than the one written here: the 4xx an upstream (provider or
 * mesh peer) answered when that 4xx is the request's own fault and is passed on as it came, or the 4xx the HTTP
 * server gave a request it could not read. Its type then follows that status (see `statusToType`).
 */

export type ErrorType =
  | 'invalid_request_error'
  | 'authentication_error'
  | 'permission_error'
  | 'not_found_error'
  | 'request_too_large'
  | 'rate_limit_error'
  | 'upstream_error'
  | 'overloaded_error'
  | 'timeout_error'
  | 'api_error';

export interface ErrorCodeSpec {
  readonly status: number;
  readonly type: ErrorType;
  readonly meaning: string;
  /** The status is the one an upstream or the HTTP server gave, when that is a 4xx passed on to the client. */
  readonly relayed?: true;
}

export const ERROR_CODES = {
  // The request itself
  invalid_request: { status: 400, type: 'invalid_request_error', relayed: true, meaning: 'The request is malformed or a field has an invalid value (named in `param`); or the HTTP server refused it before any route (its own 4xx: 414 URI too long, 415 media type, …).' },
  invalid_json: { status: 400, type: 'invalid_request_error', meaning: 'The request body is not valid JSON.' },
  not_translatable: { status: 400, type: 'invalid_request_error', meaning: 'Valid in the client\'s format but not expressible in the format of the provider that would serve it (tried only when a translation is needed). Among them `n` > 1 (Gemini `candidateCount` > 1, `param` is `n`) for every target but an OpenAI-format provider serving an OpenAI client: Anthropic, Gemini, Bedrock and Vertex return one choice, the Responses API one output, and presets that do not take `n` would drop it; a group fails over to a target that serves it.' },
  invalid_query: { status: 400, type: 'invalid_request_error', meaning: 'A query parameter of the records API is unknown or has an invalid value.' },
  invalid_cursor: { status: 400, type: 'invalid_request_error', meaning: 'The records or signals cursor is not one this API returned.' },
  invalid_claims: { status: 400, type: 'invalid_request_error', meaning: 'The claims given to `POST /v1/admin/tokens` are not valid token claims.' },
  unknown_profile: { status: 400, type: 'invalid_request_error', meaning: 'The routing profile named by `x-meshgate-profile`, `meshgate.profile` or the credential is not configured (the known ones are listed).' },
  no_eligible_target: { status: 400, type: 'invalid_request_error', meaning: 'The model has targets but none can serve this request (too long for their context, needs a capability they lack, or the routing profile\'s constraints exclude them); each target is named with why.' },
  invalid_token_id: { status: 400, type: 'invalid_request_error', meaning: 'The token id in an admin API path is not a valid token id.' },
  conflicting_credentials: { status: 400, type: 'invalid_request_error', meaning: 'The request carries two different credentials (named by where they came from: `authorization`, `x-api-key`, `x-goog-api-key`, `api-key`, the `key` query parameter); send one.' },
  invalid_sql: { status: 400, type: 'invalid_request_error', meaning: 'The SQL of `POST /v1/query` does not compile or fails (syntax, unknown table or column, parameters that do not match).' },
  sql_not_allowed: { status: 400, type: 'invalid_request_error', meaning: 'The SQL of `POST /v1/query` is not one read-only SELECT (or WITH … SELECT) over the usage tables: a write, PRAGMA, ATTACH, SET, several statements, a catalog table or a table function that reads beyond the usage tables.' },
  sql_rejected: { status: 422, type: 'invalid_request_error', meaning: 'The SQL the analytics model wrote for `POST /v1/ask` is not valid or not allowed; `details` has the SQL and the reason.' },
  route_not_found: { status: 404, type: 'not_found_error', meaning: 'No route for this method and path (or this API format has no such endpoint).' },
  method_not_allowed: { status: 405, type: 'invalid_request_error', meaning: 'The route exists for other methods, listed in `Allow`.' },
  analytics_not_configured: { status: 409, type: 'invalid_request_error', meaning: '`POST /v1/ask` needs `[analytics] model` in the config.' },
  provider_exists: { status: 409, type: 'invalid_request_error', meaning: 'A provider with this id already exists (in the config file or added at run time); ids are unique.' },
  provider_read_only: { status: 409, type: 'invalid_request_error', meaning: 'The provider comes from the config file: change it there and reload (`SIGHUP` or `POST /v1/admin/reload`); only run-time providers are patched or deleted through the API.' },
  config_reload_failed: { status: 409, type: 'invalid_request_error', meaning: 'The config file could not be reloaded (unreadable, not TOML, or invalid: every problem is listed); the running config stays as it was.' },
  reload_unavailable: { status: 409, type: 'invalid_request_error', meaning: 'This node was started without a config file (defaults and environment): there is nothing to reload.' },
  token_id_taken: { status: 409, type: 'invalid_request_error', meaning: 'A token with this id (jti) already exists; token ids must be unique.' },
  invalid_provider_config: { status: 400, type: 'invalid_request_error', meaning: 'The provider block given to `POST`/`PATCH /v1/providers` does not pass the config file\'s `[[providers]]` schema (each key and what it expects is listed; values never are).' },
  unsupported_parameter: { status: 400, type: 'invalid_request_error', meaning: 'A parameter this gateway does not serve at all, whatever the provider (Responses `background: true`; a stored response retrieved as a stream).' },
  previous_response_not_found: { status: 400, type: 'invalid_request_error', meaning: 'The `previous_response_id` (or a response earlier in its chain) is not stored for this caller: never stored, deleted, expired, or another principal\'s.' },
  previous_response_chain_too_long: { status: 400, type: 'invalid_request_error', meaning: 'The `previous_response_id` chain is longer than `responses.max_chain` responses.' },
  request_too_large: { status: 413, type: 'request_too_large', meaning: 'The request body — or the conversation a `previous_response_id` rebuilds — is larger than `server.body_limit`.' },
  client_closed: { status: 499, type: 'invalid_request_error', meaning: 'The client closed the connection before the answer was complete (recorded; nobody is left to receive it).' },

  // Credentials (401)
  missing_credentials: { status: 401, type: 'authentication_error', meaning: 'No access token or API key was sent (`Authorization: Bearer …`, `x-api-key`, `x-goog-api-key`, `api-key`, or `?key=` on `/v1beta/` routes).' },
  invalid_api_key: { status: 401, type: 'authentication_error', meaning: 'The API key is not one this gateway knows.' },
  missing_admin_key: { status: 401, type: 'authentication_error', meaning: 'The admin API was called without the admin key.' },
  invalid_admin_key: { status: 401, type: 'authentication_error', meaning: 'The admin key is not this gateway\'s.' },
  tokens_not_accepted: { status: 401, type: 'authentication_error', meaning: 'An access token was sent to a gateway whose `auth.mode` does not accept tokens.' },
  token_unknown: { status: 401, type: 'authentication_error', meaning: 'The access token verifies but is not in this gateway\'s token registry.' },
  token_malformed: { status: 401, type: 'authentication_error', meaning: 'The access token is not a well-formed token.' },
  token_wrong_gateway: { status: 401, type: 'authentication_error', meaning: 'The access token was issued by another gateway.' },
  token_bad_algorithm: { status: 401, type: 'authentication_error', meaning: 'The access token is not signed with EdDSA, the only algorithm accepted.' },
  token_bad_signature: { status: 401, type: 'authentication_error', meaning: 'The access token\'s signature is invalid.' },
  token_expired: { status: 401, type: 'authentication_error', meaning: 'The access token has expired.' },
  token_not_yet_valid: { status: 401, type: 'authentication_error', meaning: 'The access token is not valid yet (`nbf`).' },
  token_revoked: { status: 401, type: 'authentication_error', meaning: 'The access token has been revoked.' },
  token_reused_id: { status: 401, type: 'authentication_error', meaning: 'Another token with the same id (jti) is known to this gateway.' },
  token_invalid_claims: { status: 401, type: 'authentication_error', meaning: 'The access token\'s claims are invalid.' },
  token_untrusted_gateway: { status: 401, type: 'authentication_error', meaning: 'The access token was issued by a gateway this node does not trust (`federation.trusted_gateways`).' },

  // Refused by policy (402, 403)
  credit_limit_exceeded: { status: 402, type: 'permission_error', meaning: 'A mesh peer owes more in unacknowledged receipts than this node\'s credit limit; service resumes once they are acknowledged.' },
  origin_required: { status: 403, type: 'permission_error', meaning: 'The credential is bound to web origins and the request has no `Origin` or `Referer`.' },
  origin_not_allowed: { status: 403, type: 'permission_error', meaning: 'The request\'s origin is not one the credential is bound to.' },
  country_not_allowed: { status: 403, type: 'permission_error', meaning: 'The client\'s country (or an unknown one) is not allowed for the credential.' },
  model_not_allowed: { status: 403, type: 'permission_error', meaning: 'The credential may not use this model.' },
  price_not_allowed: { status: 403, type: 'permission_error', meaning: 'Every target of the model is excluded by the credential\'s pricing rules (`max_input_price`, `max_output_price`, `free_only`); each is named with its price.' },
  cost_unknown: { status: 403, type: 'permission_error', meaning: 'The credential has a cost limit and the model has no known price, so its cost could not be counted.' },
  compliance_blocked: { status: 403, type: 'permission_error', meaning: 'The compliance gate found credentials in the request (their types are listed).' },

  // Not found (404)
  model_not_found: { status: 404, type: 'not_found_error', meaning: 'No provider of this node (nor any reachable mesh peer) serves the model; close matches are suggested.' },
  provider_not_found: { status: 404, type: 'not_found_error', meaning: 'No provider with this id is configured on this node.' },
  token_not_found: { status: 404, type: 'not_found_error', meaning: 'No token with this id is known to the admin API.' },
  response_not_found: { status: 404, type: 'not_found_error', meaning: 'No stored response with this id for this caller (a response is visible only to the principal that created it).' },
  request_not_found: { status: 404, type: 'not_found_error', meaning: 'A signal names a request this credential did not make (or that has no record): the same answer for both, so it reveals nothing of other callers\' requests.' },
  peer_model_not_found: { status: 404, type: 'not_found_error', meaning: 'The mesh peer asked does not serve the model (the next peer is tried).' },

  // Limits (429)
  requests_limit_exceeded: { status: 429, type: 'rate_limit_error', meaning: 'The credential\'s request limit for the current window is used up (`Retry-After`, none for lifetime limits).' },
  tokens_limit_exceeded: { status: 429, type: 'rate_limit_error', meaning: 'The credential\'s token limit does not fit this request\'s estimate (input + `max_tokens`).' },
  cost_limit_exceeded: { status: 429, type: 'rate_limit_error', meaning: 'The credential\'s cost limit does not fit this request\'s estimated cost.' },
  ip_limit_exceeded: { status: 429, type: 'rate_limit_error', meaning: 'The per-client-IP request limit of the credential is used up.' },
  upstream_rate_limited: { status: 429, type: 'rate_limit_error', meaning: 'Every provider tried answered 429 (`Retry-After` is the soonest they gave).' },

  // This gateway
  internal_error: { status: 500, type: 'api_error', meaning: 'A bug in the gateway; the log has the cause, the client never does.' },
  providers_unavailable: { status: 503, type: 'overloaded_error', meaning: 'Every provider for the model has its circuit breaker open and panic mode is off (`Retry-After`: when the first may be tried again).' },
  provider_at_capacity: { status: 503, type: 'overloaded_error', meaning: 'Every provider for the model is at its own `max_concurrent`.' },
  node_at_capacity: { status: 503, type: 'overloaded_error', meaning: 'This node serves `server.max_concurrent` requests already (and no mesh peer took this one).' },
  state_unavailable: { status: 503, type: 'overloaded_error', meaning: 'The state backend that replicas share (`[state] backend = "redis"`) is unreachable or slower than `state.timeout_ms`, so the request was refused rather than admitted without limits (`Retry-After`). The message names the backend, never its address or credentials.' },
  primary_unavailable: { status: 503, type: 'overloaded_error', meaning: 'A worker process (`server.workers` > 1) could not reach the primary process that owns the node\'s state (quota counters, tokens, records), so the request was refused rather than admitted without limits (`Retry-After`).' },
  issuer_unavailable: { status: 503, type: 'overloaded_error', meaning: 'The access token is of a trusted gateway and none of its nodes could be reached to reserve its quota, so the request was refused rather than admitted without its limits (`Retry-After`).' },
  issuer_refused: { status: 502, type: 'upstream_error', meaning: 'A node of the token\'s issuing gateway answered the quota reservation with something this node cannot use (a refusal it does not know, or a reservation that does not verify).' },
  quota_unavailable: { status: 503, type: 'overloaded_error', meaning: 'The quota store could not be written, so the request was refused rather than admitted without limits.' },
  analytics_unavailable: { status: 503, type: 'overloaded_error', meaning: 'The usage SQL index is still catching up with the records (at start, or after its index process restarted; `Retry-After`), is disabled (`analytics.enabled = false`), or its index process failed.' },
  query_timeout: { status: 504, type: 'timeout_error', meaning: 'The query ran longer than `analytics.timeout_ms` and was interrupted.' },
  deadline_exceeded: { status: 504, type: 'timeout_error', meaning: 'The request ran out of time while the gateway waited on something of its own.' },

  // Upstreams (providers and mesh peers)
  upstream_error: { status: 502, type: 'upstream_error', relayed: true, meaning: 'Every provider tried failed (each named, with why); or a provider\'s own 4xx for a request it will not serve, passed on.' },
  upstream_connection_error: { status: 502, type: 'upstream_error', meaning: 'A provider could not be reached, or the connection broke.' },
  upstream_invalid_response: { status: 502, type: 'upstream_error', meaning: 'A provider answered with a body that is not valid JSON.' },
  upstream_timeout: { status: 504, type: 'timeout_error', meaning: 'A provider did not answer within its connect, first-byte, idle or total timeout.' },
  peer_unavailable: { status: 502, type: 'upstream_error', meaning: 'A mesh peer could not be reached, or its stream broke before the answer was complete.' },
  peer_error: { status: 502, type: 'upstream_error', relayed: true, meaning: 'A mesh peer answered with an error (its own 4xx is passed on when the request caused it), or an answer too large.' },
} as const satisfies Record<string, ErrorCodeSpec>;

export type ErrorCode = keyof typeof ERROR_CODES;

/** The codes whose fixed status is `S` (e.g. `CodeWithStatus<403>`), for helpers that stand for one status. */
export type CodeWithStatus<S extends number> = { [C in ErrorCode]: (typeof ERROR_CODES)[C]['status'] extends S ? C : never }[ErrorCode];

export function isErrorCode(value: string): value is ErrorCode {
  return Object.hasOwn(ERROR_CODES, value);
}
