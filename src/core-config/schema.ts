import { z } from 'zod';
import { Secret } from '../core/index.js';

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

export const providerSchema = z
  .object({
    id: z.string().regex(/^[A-Za-z0-9][A-Za-z0-9_.-]{0,63}$/, 'letters, digits, _ . - (max 64)'),
    type: z.enum(PROVIDER_TYPES),
    /** The API root exactly as that provider's official SDK takes it. */
    base_url: z.url({ protocol: /^https?$/ }).optional(),
    api_key: secret.optional(),
    /** Models served; absent → discovered from the provider's model list. `"*"` serves any model. */
    models: z.array(z.string().min(1)).optional(),
    /** Client-visible model name → upstream model name (e.g. an alias, or an Azure deployment's model). */
    model_map: z.record(z.string(), z.string()).default({}),
    /** Azure OpenAI: default deployment, per-model deployments, and the api-version query parameter. */
    deployment: z.string().optional(),
    deployments: z.record(z.string(), z.string()).default({}),
    api_version: z.string().default('2024-10-21'),
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
  })
  .strict()
  .superRefine((provider, ctx) => {
    if (!provider.base_url && !DEFAULT_BASE_URLS[provider.type] && !REGIONAL_TYPES.has(provider.type)) {
      ctx.addIssue({ code: 'custom', path: ['base_url'], message: `base_url is required for type "${provider.type}"` });
    }
    if (provider.type === 'azure_openai' && !provider.deployment && Object.keys(provider.deployments).length === 0 && !provider.models?.length) {
      ctx.addIssue({ code: 'custom', path: ['deployment'], message: 'azure_openai needs `deployment`, `deployments` or `models` (used as deployment names)' });
    }
    // Neither has a model list the runtime endpoint serves (Bedrock's is on another API, Vertex's per publisher).
    if (REGIONAL_TYPES.has(provider.type) && !provider.models?.length && Object.keys(provider.model_map).length === 0) {
      ctx.addIssue({ code: 'custom', path: ['models'], message: `${provider.type} needs \`models\` (model ids or inference profiles; "*" serves any)` });
    }
    if (provider.aws && provider.type !== 'bedrock') ctx.addIssue({ code: 'custom', path: ['aws'], message: '`aws` is for type "bedrock" only' });
    if (provider.vertex && provider.type !== 'vertex') ctx.addIssue({ code: 'custom', path: ['vertex'], message: '`vertex` is for type "vertex" only' });
  });

export type ProviderConfig = z.infer<typeof providerSchema>;

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
    /** Serve the web console at `/` (static files; every call it makes needs the admin key). */
    portal: z.boolean().default(true),
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
