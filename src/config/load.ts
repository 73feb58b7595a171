import { readFile } from 'node:fs/promises';
import { parse as parseToml, TomlError } from 'smol-toml';
import { z } from 'zod';
import { ConfigError } from '../core/index.js';
import { MissingEnvError, substituteEnv } from './env.js';
import { configSchema, type Config } from './root.js';
import { providersFromEnv } from './from-env.js';

/** A config that cannot be used; its message names the file, the key and what was expected. */
export { ConfigError } from '../core/index.js';

function formatIssuePath(path: ReadonlyArray<PropertyKey>): string {
  return path.reduce<string>((out, key) => (typeof key === 'number' ? `${out}[${key}]` : out ? `${out}.${String(key)}` : String(key)), '');
}

/** One line per zod issue: `key: message`, e.g. `providers[0].type: expected one of "openai"|…`. */
export function formatConfigIssues(error: z.ZodError, source: string): string {
  const lines = error.issues.map((issue) => {
    const key = formatIssuePath(issue.path) || '(root)';
    if (issue.code === 'unrecognized_keys') {
      return `  ${key === '(root)' ? '' : `${key}: `}unknown key(s) ${issue.keys.map((k) => `"${k}"`).join(', ')}`;
    }
    return `  ${key}: ${issue.message}`;
  });
  return `Invalid configuration in ${source}:\n${lines.join('\n')}`;
}

export interface LoadOptions {
  /** Path of a TOML file; absent → defaults plus providers from the environment. */
  file?: string;
  env?: NodeJS.ProcessEnv;
  /** Command-line overrides (`--host`, `--port`, `--data`). */
  overrides?: { host?: string; port?: number; dataDir?: string };
}

export interface LoadedConfig {
  config: Config;
  source: string;
  /** What the loader left out and why (providers from the environment that cannot serve anything), for the operator. */
  notes: string[];
}

/** Parses an in-memory config object (already TOML-decoded), resolving `${VAR}`s. Used by tests and `loadConfig`. */
export function parseConfig(raw: unknown, source: string, env: NodeJS.ProcessEnv = process.env): Config {
  let substituted: unknown;
  try {
    substituted = substituteEnv(raw, env);
  } catch (err) {
    if (err instanceof MissingEnvError) throw new ConfigError(`Invalid configuration in ${source}:\n  ${err.message}`);
    throw err;
  }
  let result = configSchema.safeParse(substituted);
  // `port = "${PORT}"`: a value written as a variable reference is text, where the schema may want a number or a
  // boolean; such values (and only those) are converted when they read as one, and the config is checked again.
  if (!result.success && coerceReferences(raw, substituted, result.error.issues)) result = configSchema.safeParse(substituted);
  if (!result.success) throw new ConfigError(formatConfigIssues(result.error, source));
  return result.data;
}

/** Converts, in place, the values at issues "expected number/boolean, received string" that came from `${…}`. */
function coerceReferences(raw: unknown, substituted: unknown, issues: ReadonlyArray<{ code: string; path: PropertyKey[]; expected?: unknown }>): boolean {
  let changed = false;
  for (const issue of issues) {
    if (issue.code !== 'invalid_type' || (issue.expected !== 'number' && issue.expected !== 'boolean') || issue.path.length === 0) continue;
    const written = valueAt(raw, issue.path);
    const parent = valueAt(substituted, issue.path.slice(0, -1)) as Record<PropertyKey, unknown> | undefined;
    const key = issue.path[issue.path.length - 1]!;
    const value = parent?.[key];
    if (typeof written !== 'string' || !written.includes('${') || typeof value !== 'string') continue;
    if (issue.expected === 'number' && /^-?\d+(\.\d+)?$/.test(value.trim())) parent![key] = Number(value);
    else if (issue.expected === 'boolean' && /^(true|false)$/.test(value.trim())) parent![key] = value.trim() === 'true';
    else continue;
    changed = true;
  }
  return changed;
}

function valueAt(root: unknown, path: PropertyKey[]): unknown {
  let current = root;
  for (const key of path) {
    if (current === null || typeof current !== 'object') return undefined;
    current = (current as Record<PropertyKey, unknown>)[key];
  }
  return current;
}

export async function loadConfig(options: LoadOptions = {}): Promise<LoadedConfig> {
  const env = options.env ?? process.env;
  let raw: Record<string, unknown>;
  let source: string;
  const notes: string[] = [];
  if (options.file) {
    source = options.file;
    let text: string;
    try {
      text = await readFile(options.file, 'utf8');
    } catch (err) {
      throw new ConfigError(`Cannot read config file ${options.file}: ${(err as NodeJS.ErrnoException).code ?? String(err)}`);
    }
    try {
      raw = parseToml(text) as Record<string, unknown>;
    } catch (err) {
      const where = err instanceof TomlError ? ` (line ${err.line}, column ${err.column})` : '';
      throw new ConfigError(`Config file ${options.file} is not valid TOML${where}: ${(err as Error).message.split('\n')[0]}`);
    }
  } else {
    source = 'defaults + environment';
    raw = { providers: providersFromEnv(env, notes) };
  }
  const { overrides } = options;
  if (overrides?.host !== undefined || overrides?.port !== undefined) {
    raw.server = { ...(raw.server as object | undefined), ...(overrides.host !== undefined ? { host: overrides.host } : {}), ...(overrides.port !== undefined ? { port: overrides.port } : {}) };
  }
  if (overrides?.dataDir !== undefined) raw.storage = { ...(raw.storage as object | undefined), dir: overrides.dataDir };
  return { config: parseConfig(raw, source, env), source, notes };
}
