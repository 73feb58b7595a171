/**
 * `${VAR}` substitution for config values. `${VAR:-default}` gives a default; `$${` writes a literal `${`. A missing
 * variable without a default, or a `${…}` that is not a valid reference (`${OPENAI-KEY}`, `${ K }`), is an error that
 * names the config key (never a value) — kept as literal text it would be sent on as, say, an API key.
 * Values are strings; the schema converts where a number is expected. Keys are left alone.
 */

const REFERENCE = /\$\$\{|\$\{([A-Za-z_][A-Za-z0-9_]*)(?::-([^}]*))?\}/g;

export class MissingEnvError extends Error {
  constructor(readonly path: string, readonly variable: string, detail?: string) {
    super(detail ? `${path}: ${detail}` : `${path}: environment variable ${variable} is not set or empty (use \${${variable}:-default} to give a default)`);
  }
}

export function substituteEnv(value: unknown, env: NodeJS.ProcessEnv, path = ''): unknown {
  if (typeof value === 'string') {
    // Checked on the text as written (a variable's value may itself contain "${", e.g. a password).
    const leftover = value.replace(REFERENCE, '');
    if (leftover.includes('${')) {
      const bad = /\$\{[^}]*\}?/.exec(leftover)![0];
      throw new MissingEnvError(path || '(root)', '', `'${bad.slice(0, 16)}' is not a valid variable reference: use \${NAME} or \${NAME:-default} with letters, digits and _ (write $\${ for a literal \${)`);
    }
    return value.replace(REFERENCE, (match, name: string | undefined, fallback: string | undefined) => {
      if (match === '$${') return '${';
      const found = env[name!];
      if (found !== undefined && found !== '') return found;
      if (fallback !== undefined) return fallback;
      throw new MissingEnvError(path || '(root)', name!);
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
