import { createHash } from 'node:crypto';
import { formatConfigIssues } from '../config/load.js';
import { MissingEnvError, substituteEnv } from '../config/env.js';
import { publicUrl } from '../config/public-url.js';
import { providerSchema, type ProviderConfig } from '../core-config/index.js';
import { Secret } from '../core/index.js';
import { GatewayError } from '../errors/index.js';

/** A `[[providers]]` block as JSON, as the operator wrote it (before `${VAR}` substitution). */
export type ProviderBlock = Record<string, unknown>;

/** A whole `${NAME}` reference: the name of a variable, not a secret, so it may be shown. */
const BARE_REFERENCE = /^\$\{[A-Za-z_][A-Za-z0-9_]*\}$/;

/** What a secret value given literally is shown as. */
export const SECRET_SET = 'set';

/**
 * A block checked exactly as the config file's `[[providers]]` entries are: `${VAR}`s resolved from `env`, then the
 * same schema. The error lists each key and what it expects, never a value (a key may be among them).
 */
export function parseProviderBlock(block: unknown, source: string, env: NodeJS.ProcessEnv): ProviderConfig {
  if (block === null || typeof block !== 'object' || Array.isArray(block)) {
    throw new GatewayError('invalid_provider_config', `${source}: a provider is a JSON object with the fields of a [[providers]] block.`);
  }
  let substituted: unknown;
  try {
    substituted = substituteEnv(block, env);
  } catch (err) {
    if (err instanceof MissingEnvError) throw new GatewayError('invalid_provider_config', `Invalid configuration in ${source}:\n  ${err.message}`);
    throw err;
  }
  const result = providerSchema.safeParse(substituted);
  if (!result.success) throw new GatewayError('invalid_provider_config', formatConfigIssues(result.error, source));
  return result.data;
}

/**
 * The block as it may be shown: every secret field given literally reads `"set"` (a bare `${NAME}` reference stays,
 * it names a variable), header values likewise (they often carry keys), and the base URL without userinfo or query.
 * Secret fields are found from the parsed config (where the schema wrapped them in `Secret`), so a secret field
 * added to the schema later is hidden too.
 */
export function redactProviderBlock(block: ProviderBlock, parsed: ProviderConfig): ProviderBlock {
  const out = structuredClone(block);
  for (const path of secretPaths(parsed)) {
    const parent = at(out, path.slice(0, -1));
    const key = path[path.length - 1]!;
    if (parent && typeof parent === 'object' && key in parent) {
      const value = (parent as Record<string | number, unknown>)[key];
      (parent as Record<string | number, unknown>)[key] = typeof value === 'string' && BARE_REFERENCE.test(value) ? value : SECRET_SET;
    }
  }
  const headers = out.headers;
  if (headers && typeof headers === 'object' && !Array.isArray(headers)) {
    for (const [name, value] of Object.entries(headers)) (headers as Record<string, unknown>)[name] = typeof value === 'string' && BARE_REFERENCE.test(value) ? value : SECRET_SET;
  }
  if (typeof out.base_url === 'string') out.base_url = publicUrl(out.base_url) ?? SECRET_SET;
  return out;
}

/**
 * A patched block in which each secret (and header value) that reads `"set"` — the placeholder answers show, sent back
 * by a client that PATCHes what it read — keeps the value stored before, instead of becoming the key "set".
 */
export function keepHiddenSecrets(patched: ProviderBlock, before: ProviderBlock, beforeParsed: ProviderConfig): ProviderBlock {
  const out = structuredClone(patched);
  const headerPaths = Object.keys(isRecord(before.headers) ? before.headers : {}).map((name) => ['headers', name]);
  for (const path of [...secretPaths(beforeParsed), ...headerPaths]) {
    const parent = at(out, path.slice(0, -1));
    const key = path[path.length - 1]!;
    const previous = at(before, path);
    if (isRecord(parent) && parent[key] === SECRET_SET && previous !== undefined) parent[key] = previous;
  }
  return out;
}

const isRecord = (value: unknown): value is Record<string | number, unknown> => value !== null && typeof value === 'object';

/** Whether a provider has a credential of its own (a key, Bedrock or Vertex credentials), for the set/unset view. */
export function hasCredentials(parsed: ProviderConfig): boolean {
  return secretPaths(parsed).length > 0 || parsed.aws?.access_key_id !== undefined || parsed.vertex?.credentials_file !== undefined;
}

/** RFC 7386 JSON Merge Patch: objects merge key by key, `null` removes a key, anything else replaces. */
export function mergePatch(target: unknown, patch: unknown): unknown {
  if (patch === null || typeof patch !== 'object' || Array.isArray(patch)) return patch;
  const out: Record<string, unknown> = target !== null && typeof target === 'object' && !Array.isArray(target) ? { ...(target as Record<string, unknown>) } : {};
  for (const [key, value] of Object.entries(patch)) {
    if (value === null) delete out[key];
    else out[key] = mergePatch(out[key], value);
  }
  return out;
}

/**
 * What makes two parsed configs the same provider: their JSON with each secret replaced by its SHA-256, so a new key
 * counts as a change (the provider is rebuilt) without the key itself being kept in the fingerprint.
 */
export function providerFingerprint(config: ProviderConfig): string {
  return createHash('sha256').update(comparableJson(config)).digest('hex');
}

/**
 * JSON of parsed config for comparing two versions: each `Secret` as its SHA-256 (its own `toJSON` would make every
 * key look the same), never as its value.
 */
export function comparableJson(value: unknown): string {
  return JSON.stringify(value, function (this: Record<string, unknown>, key, item: unknown) {
    const original = this[key];
    return original instanceof Secret ? `sha256:${createHash('sha256').update(original.reveal()).digest('hex')}` : item;
  }) ?? 'undefined';
}

function secretPaths(value: unknown, path: Array<string | number> = []): Array<Array<string | number>> {
  if (value instanceof Secret) return [path];
  if (Array.isArray(value)) return value.flatMap((item, i) => secretPaths(item, [...path, i]));
  if (value !== null && typeof value === 'object') return Object.entries(value).flatMap(([key, item]) => secretPaths(item, [...path, key]));
  return [];
}

function at(root: unknown, path: Array<string | number>): unknown {
  let current = root;
  for (const key of path) {
    if (current === null || typeof current !== 'object') return undefined;
    current = (current as Record<string | number, unknown>)[key];
  }
  return current;
}
