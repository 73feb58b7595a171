import { z } from 'zod';
import { Secret } from '../core/index.js';
// From config.js, not the routing index: the schemas only, without the engine.
import { fallbacksSchema, profilesConfigSchema } from '../routing/config.js';
import { PRESET_NAMES, presetOf, type PresetName } from './provider-presets.js';

/** A string secret from the config, wrapped so it cannot leak through JSON, logs or string interpolation. */
const secret = z.string().transform((value) => new Secret(value));

const timeoutsSchema = z
  .object({
    connect_ms: z.number().int().positive().default(5_000),
    first_byte_ms: z.number().int().positive().default(60_000),
    idle_ms: z.number().int().positive().default(60_000),
    total_ms: z.number().int().positive().default(600_000),
  })
  .strict();

export const PROVIDER_TYPES = ['openai', 'anthropic', 'azure_openai', 'gemini', 'openai_compatible', 'bedrock', 'vertex'] as const;
export type ProviderType = (typeof PROVIDER_TYPES)[number];

export const DEFAULT_BASE_URLS: Record<ProviderType, string | undefined> = {
  openai: 'https://api.openai.com/v1',
  anthropic: 'https://api.anthropic.com',
  gemini: 'https://generativelanguage.googleapis.com/v1beta',
  azure_openai: undefined,
  openai_compatible: undefined,
  // Regional: built from the region (src/providers/bedrock, src/providers/vertex) unless base_url is given.
  bedrock: undefined,
  vertex: undefined,
};

/**
 * Generation endpoints an OpenAI-type provider serves a model at: `chat` (`/chat/completions`) and `responses`
 * (`/responses`). A client whose own format is among them is passed through; any other client is translated to the
 * first one listed.
 */
export const GENERATION_ENDPOINTS = ['chat', 'responses'] as const;
export type GenerationEndpoint = (typeof GENERATION_ENDPOINTS)[number];
const endpointList = z.array(z.enum(GENERATION_ENDPOINTS)).min(1).refine((list) => new Set(list).size === list.length, 'each endpoint once');

/** Where the endpoints setting applies: the provider types that speak the OpenAI API at a plain base URL. */
const ENDPOINT_TYPES: readonly ProviderType[] = ['openai', 'openai_compatible'];

/** Types whose endpoint is built from a region, so they need no base_url. */
const REGIONAL_TYPES: ReadonlySet<ProviderType> = new Set(['bedrock', 'vertex']);

/**
 * AWS Bedrock credentials and region. Each field left out is taken from the usual variables at start
 * (AWS_REGION / AWS_DEFAULT_REGION, AWS_ACCESS_KEY_ID, AWS_SECRET_ACCESS_KEY, AWS_SESSION_TOKEN); a Bedrock API key
 * (bearer mode) goes in the provider's `api_key` or AWS_BEARER_TOKEN_BEDROCK.
 */
const awsSchema = z
  .object({
    region: z.string().regex(/^[a-z]{2}(-[a-z]+)+-\d+$/, 'an AWS region such as us-east-1').optional(),
    access_key_id: z.string().min(1).optional(),
    secret_access_key: secret.optional(),
    session_token: secret.optional(),
  })
  .strict()
  .refine((aws) => (aws.access_key_id === undefined) === (aws.secret_access_key === undefined), {
    message: 'access_key_id and secret_access_key go together',
  });

/**
 * Google Vertex AI project, location and credentials. Left out: GOOGLE_CLOUD_PROJECT (or the key file's
 * project_id), GOOGLE_CLOUD_LOCATION, GOOGLE_APPLICATION_CREDENTIALS, GOOGLE_OAUTH_ACCESS_TOKEN.
 */
const vertexSchema = z
  .object({
    project: z.string().regex(/^[a-z][a-z0-9-]{4,61}[a-z0-9]$/, 'a Google Cloud project id').optional(),
    /** A region such as us-east5, or "global" (the global endpoint, aiplatform.googleapis.com). */
    region: z.string().regex(/^(global|[a-z]+-[a-z]+\d+)$/, 'a Google Cloud region such as us-east5, or "global"').optional(),
    /** A service-account JSON key: the node signs a JWT with it and exchanges it at the key's token_uri. */
    credentials_file: z.string().min(1).optional(),
    /** An OAuth access token used as is (it expires: for long-running nodes prefer credentials_file). */
    access_token: secret.optional(),
  })
  .strict();

const KEY_LABEL = /^[A-Za-z0-9][A-Za-z0-9_.-]{0,63}$/;

/** One of several keys of a provider: named in records and logs by its label, never by its value. */
const providerKeySchema = z
  .object({
    key: secret,
    /** Shown in records, logs and errors instead of the key; default `key-<n>` (1-based, in config order). */
    label: z.string().regex(KEY_LABEL, 'letters, digits, _ . - (max 64)').optional(),
    /** Share of the requests this key takes, relative to the others' (smooth weighted round robin). */
    weight: z.number().int().min(1).max(1000).default(1),
    /** Requests in flight on this key at most; a full key is skipped. Absent: only the provider's max_concurrent. */
    max_concurrent: z.number().int().positive().optional(),
  })
  .strict();

/** The labels of a provider's several keys, in config order (`key-<n>`, 1-based, where none is given); [] for one key. */
export function providerKeyLabels(provider: { keys?: Array<{ label?: string }>; api_keys?: unknown[] }): string[] {
  return (provider.keys ?? provider.api_keys ?? []).map((k, i) => (k as { label?: string }).label ?? `key-${i + 1}`);
}

export const providerSchema = z
  .object({
    id: z.string().regex(/^[A-Za-z0-9][A-Za-z0-9_.-]{0,63}$/, 'letters, digits, _ . - (max 64)'),
    /** A provider type, or a named OpenAI-compatible preset (`groq`, `mistral`, …: see provider-presets.ts). */
    type: z.enum([...PROVIDER_TYPES, ...PRESET_NAMES]),
    /** The API root exactly as that provider's official SDK takes it. */
    base_url: z.url({ protocol: /^https?$/ }).optional(),
    api_key: secret.optional(),
    /** Several keys, requests spread evenly over them (labels `key-1`, `key-2`, …). */
    api_keys: z.array(secret).min(1).optional(),
    /** Several keys with labels, weights and per-key concurrency. */
    keys: z.array(providerKeySchema).min(1).optional(),
    /** Seconds a key is rested after a 401/403/429 (doubled on each refusal in a row, up to key_rest_max_seconds). */
    key_rest_seconds: z.number().positive().default(5),
    key_rest_max_seconds: z.number().positive().default(300),
    /** Models served; absent → discovered from the provider's model list. `"*"` serves any model. */
    models: z.array(z.string().min(1)).optional(),
    /** Client-visible model name → upstream model name (e.g. an alias, or an Azure deployment's model). */
    model_map: z.record(z.string(), z.string()).default({}),
    /** Azure OpenAI: default deployment, per-model deployments, and the api-version query parameter. */
    deployment: z.string().optional(),
    deployments: z.record(z.string(), z.string()).default({}),
    api_version: z.string().default('2024-10-21'),
    /**
     * Generation endpoints of this provider (openai, openai_compatible): default `["chat", "responses"]` for OpenAI
     * itself, `["chat"]` for compatible servers. `["responses"]` makes its models Responses-only.
     */
    endpoints: endpointList.optional(),
    /** Per-model endpoints, overriding `endpoints` (models OpenAI serves only at /v1/responses: `{ "o3-pro" = ["responses"] }`). */
    model_endpoints: z.record(z.string(), endpointList).default({}),
    /** Bedrock: region and credentials (see awsSchema). */
    aws: awsSchema.optional(),
    /** Vertex AI: project, region and credentials (see vertexSchema). */
    vertex: vertexSchema.optional(),
    /** Extra headers sent upstream (e.g. OpenRouter's HTTP-Referer). Values may use ${VAR}. */
    headers: z.record(z.string(), z.string()).default({}),
    timeouts: timeoutsSchema.prefault({}),
    /** Retries on the same provider before failing over (connection errors, 408/409/429/5xx). */
    max_retries: z.number().int().min(0).max(5).default(1),
    /** Concurrent upstream requests to this provider; further requests fail over (or wait in the mesh). */
    max_concurrent: z.number().int().positive().default(256),
    /**
     * Anthropic: models that take `output_config.format` (exact names or a prefix ending in `*`); other models get
     * JSON output through a forced tool. Absent → the models Anthropic lists as supporting structured outputs.
     */
    structured_output_models: z.array(z.string().min(1)).optional(),
    /** Where the provider runs (free text such as "eu" or "us-east"), for routing profiles' `regions`. */
    region: z.string().min(1).max(64).optional(),
  })
  .strict()
  .superRefine((provider, ctx) => {
    const preset = presetOf(provider.type);
    const given = [provider.api_key && 'api_key', provider.api_keys && 'api_keys', provider.keys && 'keys'].filter(Boolean);
    if (given.length > 1) ctx.addIssue({ code: 'custom', path: [given[1] as string], message: `give one of api_key, api_keys and keys (got ${given.join(', ')})` });
    const labels = providerKeyLabels(provider);
    const twice = labels.find((label, i) => labels.indexOf(label) !== i);
    if (twice) ctx.addIssue({ code: 'custom', path: ['keys'], message: `key label "${twice}" is used twice` });
    if (provider.key_rest_max_seconds < provider.key_rest_seconds) {
      ctx.addIssue({ code: 'custom', path: ['key_rest_max_seconds'], message: 'key_rest_max_seconds is below key_rest_seconds' });
    }
    if (preset && !preset.discovery && !provider.models?.length && Object.keys(provider.model_map).length === 0) {
      ctx.addIssue({ code: 'custom', path: ['models'], message: `${provider.type} has no model list to discover from: give \`models\`` });
    }
    if (preset) return;
    const type = provider.type as ProviderType;
    if (!provider.base_url && !DEFAULT_BASE_URLS[type] && !REGIONAL_TYPES.has(type)) {
      ctx.addIssue({ code: 'custom', path: ['base_url'], message: `base_url is required for type "${provider.type}"` });
    }
    if (!ENDPOINT_TYPES.includes(type) && (provider.endpoints || Object.keys(provider.model_endpoints).length > 0)) {
      ctx.addIssue({ code: 'custom', path: [provider.endpoints ? 'endpoints' : 'model_endpoints'], message: `endpoints apply to providers of type ${ENDPOINT_TYPES.join(' or ')}, not "${provider.type}"` });
    }
    if (provider.type === 'azure_openai' && !provider.deployment && Object.keys(provider.deployments).length === 0 && !provider.models?.length) {
      ctx.addIssue({ code: 'custom', path: ['deployment'], message: 'azure_openai needs `deployment`, `deployments` or `models` (used as deployment names)' });
    }
    // Neither has a model list the runtime endpoint serves (Bedrock's is on another API, Vertex's per publisher).
    if (REGIONAL_TYPES.has(type) && !provider.models?.length && Object.keys(provider.model_map).length === 0) {
      ctx.addIssue({ code: 'custom', path: ['models'], message: `${provider.type} needs \`models\` (model ids or inference profiles; "*" serves any)` });
    }
    if (provider.aws && provider.type !== 'bedrock') ctx.addIssue({ code: 'custom', path: ['aws'], message: '`aws` is for type "bedrock" only' });
    if (provider.vertex && provider.type !== 'vertex') ctx.addIssue({ code: 'custom', path: ['vertex'], message: '`vertex` is for type "vertex" only' });
  })
  // A preset is an openai_compatible provider with its base URL filled in; `preset` keeps its name for its quirks.
  .transform(({ type, ...provider }) => {
    const preset = presetOf(type);
    return preset
      ? { ...provider, type: 'openai_compatible' as ProviderType, preset: type as PresetName, base_url: provider.base_url ?? preset.baseUrl }
      : { ...provider, type: type as ProviderType, preset: undefined as PresetName | undefined };
  });

export type ProviderConfig = z.infer<typeof providerSchema>;
export type ProviderKeyConfig = z.infer<typeof providerKeySchema>;

export const serverSchema = z
  .object({
    host: z.string().default('127.0.0.1'),
    port: z.number().int().min(0).max(65535).default(8930),
    /** Largest request body accepted, in bytes (413 above it). */
    body_limit: z.number().int().positive().default(20 * 1024 * 1024),
    /** Requests served at once by this node; above it the node is "full" (mesh forwarding or 503). */
    max_concurrent: z.number().int().positive().default(512),
    /** Take the client address from X-Forwarded-For (only behind a proxy you control). */
    trust_proxy: z.boolean().default(false),
    /** Seconds to wait for in-flight requests on shutdown before closing them. */
    shutdown_grace_seconds: z.number().min(0).default(30),
    /**
     * After this many seconds without a request (none in flight), a node that owns its process collects V8's whole
     * heap once and gives its free pages back (README, "Idle memory"); 0 = never. It counts as idle after 10 s already
     * (and gives back malloc's free pages then): this step is the dearer one, paid by the next load in recompiled code.
     * It also gives back the young generation, which `meshgate start` lets grow to 16 MB per semi-space for speed
     * (bin/entry.js): with 0, an idle node keeps that too.
     */
    idle_heap_reclaim_seconds: z
      .number()
      .min(0)
      .max(2_147_483, { message: 'must be at most 2147483 (about 24 days: the longest a timer waits); 0 means never' })
      .default(60)
      .refine((s) => s === 0 || s >= 10, { message: 'must be 0 (never) or at least 10 (a node counts as idle after 10 s without a request)' }),
    /** Serve the web console at `/` (static files; every call it makes needs the admin key). */
    portal: z.boolean().default(true),
    /**
     * HTTP worker processes sharing the port (node:cluster); `"auto"` = one per core. Above 1 the primary process
     * owns the node (LevelDB, the mesh, the operator API) and the workers serve requests, reaching its state over IPC
     * (README, "Using every core").
     */
    workers: z.union([z.number().int().min(1).max(256), z.literal('auto')]).default(1),
  })
  .strict();

export const routingSchema = z
  .object({
    /** Upstream attempts per request across all providers and retries. */
    max_attempts: z.number().int().min(1).max(20).default(6),
    /** A Retry-After longer than this is not waited for: the router moves on to the next provider. */
    max_retry_wait_ms: z.number().int().min(0).default(2_000),
    /** Base of the exponential back-off between retries on one provider (jittered). */
    backoff_ms: z.number().int().min(0).default(100),
    circuit_breaker: z
      .object({
        failure_threshold: z.number().int().min(1).default(5),
        cooldown_ms: z.number().int().min(1).default(30_000),
        max_cooldown_ms: z.number().int().min(1).default(300_000),
        /** Panic mode: with every provider of a model open, try the one whose cool-down ends soonest instead of refusing. */
        panic: z.boolean().default(true),
      })
      .strict()
      .prefault({}),
    /** Seconds between model-list refreshes of providers without a fixed `models` list. */
    discovery_interval_seconds: z.number().int().min(10).default(300),
    /** `[routing.profiles.<id>]`: weights, constraints and strategy, chosen per request or per credential. */
    profiles: profilesConfigSchema,
    /** Where a request goes after a context-window error or a content-policy refusal. */
    fallbacks: fallbacksSchema.prefault({}),
  })
  .strict();

export const storageSchema = z.object({ dir: z.string().default('./data') }).strict();

export const coreConfigShape = {
  server: serverSchema.prefault({}),
  storage: storageSchema.prefault({}),
  routing: routingSchema.prefault({}),
  providers: z.array(providerSchema).default([]),
};

export type ServerConfig = z.infer<typeof serverSchema>;
export type RoutingConfig = z.infer<typeof routingSchema>;
/** The sections above, as parsed (the root config in config/ has them all). */
export type CoreConfig = { [K in keyof typeof coreConfigShape]: z.infer<(typeof coreConfigShape)[K]> };
