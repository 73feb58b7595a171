/**
 * `${VAR}` substitution for config values. `${VAR:-default}` gives a default; a missing variable without one is an
 * error that names the config key (never the value). Only whole strings are walked; keys are left alone.
 */

const VAR = /\$\{([A-Za-z_][A-Za-z0-9_]*)(?::-([^}]*))?\}/g;

export class MissingEnvError extends Error {
  constructor(readonly path: string, readonly variable: string) {
    super(`${path}: environment variable ${variable} is not set (use \${${variable}:-default} to give a default)`);
  }
}

export function substituteEnv(value: unknown, env: NodeJS.ProcessEnv, path = ''): unknown {
  if (typeof value === 'string') {
    return value.replace(VAR, (_match, name: string, fallback: string | undefined) => {
      const found = env[name];
      if (found !== undefined && found !== '') return found;
      if (fallback !== undefined) return fallback;
      throw new MissingEnvError(path || '(root)', name);
    });
  }
  if (Array.isArray(value)) return value.map((item, i) => substituteEnv(item, env, `${path}[${i}]`));
  if (value !== null && typeof value === 'object') {
    const out: Record<string, unknown> = {};
    for (const [key, item] of Object.entries(value)) out[key] = substituteEnv(item, env, path ? `${path}.${key}` : key);
    return out;
  }
  return value;
}
