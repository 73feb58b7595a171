import { readFile } from 'node:fs/promises';
import { parse as parseToml, TomlError } from 'smol-toml';
import { z } from 'zod';
import { MissingEnvError, substituteEnv } from './env.js';
import { configSchema, type Config } from './root.js';
import { providersFromEnv } from './from-env.js';

/** A config that cannot be used; its message names the file, the key and what was expected. */
export class ConfigError extends Error {
  constructor(message: string) {
    super(message);
    this.name = 'ConfigError';
  }
}

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
  const result = configSchema.safeParse(substituted);
  if (!result.success) throw new ConfigError(formatConfigIssues(result.error, source));
  return result.data;
}

export async function loadConfig(options: LoadOptions = {}): Promise<LoadedConfig> {
  const env = options.env ?? process.env;
  let raw: Record<string, unknown>;
  let source: string;
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
    raw = { providers: providersFromEnv(env) };
  }
  const { overrides } = options;
  if (overrides?.host !== undefined || overrides?.port !== undefined) {
    raw.server = { ...(raw.server as object | undefined), ...(overrides.host !== undefined ? { host: overrides.host } : {}), ...(overrides.port !== undefined ? { port: overrides.port } : {}) };
  }
  if (overrides?.dataDir !== undefined) raw.storage = { ...(raw.storage as object | undefined), dir: overrides.dataDir };
  return { config: parseConfig(raw, source, env), source };
}
