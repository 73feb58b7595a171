import { parseArgs } from 'node:util';
import { AdminKey, AdminKeyError, readAdminKeyFile } from './admin-key.js';
import { mintAccessToken, TokenClaimsError, TokenRejectedError, verifyAccessToken, type TokenClaimsInput } from './access-token.js';

export interface TokenCommandIO {
  out: (line: string) => void;
  err: (line: string) => void;
  /** Environment to read MESHGATE_ADMIN_KEY from (process.env when absent). */
  env?: Record<string, string | undefined>;
  now?: () => number;
}

export const TOKEN_USAGE = `Usage:
  meshgate token create [key] [limits] [--json]
      Mint an access token offline and print it (mg-…).
      key:    --secret-key sk-meshgate-…  |  env MESHGATE_ADMIN_KEY  |  --data DIR (reads DIR/admin.key; default ./data)
              (prefer the environment: a key on the command line is visible to other local users in the process list)
      limits: --domain HOST            allowed origin host, repeatable; "*.example.com" for any subdomain
              --requests N/PERIOD      e.g. 100/day            (PERIOD: hour, day, month, lifetime)
              --tokens N/PERIOD        e.g. 50000/day
              --ip-quota N/PERIOD      requests per visitor IP, e.g. 20/hour
              --cost USD[/PERIOD]      e.g. 5 or 5/month       (default period: lifetime)
              --allow-country CC       repeatable or comma-separated ISO codes
              --block-country CC       repeatable or comma-separated
              --model NAME             allowed model, repeatable; "gpt-4o*" for a prefix
              --expires-in DURATION    e.g. 30m, 12h, 7d, or milliseconds
              --expires-at TIME        ISO 8601 or epoch ms
              --not-before TIME        ISO 8601 or epoch ms
              --jti ID  --sub TEXT
      --json prints {token, id, expiresAt}.
  meshgate token verify TOKEN [--public-key pk-meshgate-… | key options]
      Verify a token offline and print its claims.
  meshgate token public-key [key options]
      Print the public key and gateway id (for offline verification).`;

class TokenUsageError extends Error {}

const DURATION_UNITS: Record<string, number> = { ms: 1, s: 1_000, m: 60_000, h: 3_600_000, d: 86_400_000, w: 604_800_000 };

function parseDuration(text: string): number {
  const match = /^(\d+)(ms|s|m|h|d|w)?$/.exec(text.trim());
  if (!match) throw new TokenUsageError(`"${text}" is not a duration (examples: 30m, 12h, 7d, 3600000).`);
  return Number(match[1]) * DURATION_UNITS[match[2] ?? 'ms']!;
}

function parseTime(text: string): number {
  const value = /^\d+$/.test(text) ? Number(text) : Date.parse(text);
  if (!Number.isFinite(value)) throw new TokenUsageError(`"${text}" is not a time (ISO 8601 or epoch milliseconds).`);
  return value;
}

function parseLimit(flag: string, text: string | undefined, defaultPeriod?: string): { limit: number; period: string } | undefined {
  if (text === undefined) return undefined;
  const [amount, period = defaultPeriod] = text.split('/');
  if (period === undefined) throw new TokenUsageError(`--${flag} needs N/PERIOD, e.g. 100/day.`);
  return { limit: Number(amount), period };
}

function list(values: string[] | undefined): string[] | undefined {
  return values?.flatMap((value) => value.split(',')).map((value) => value.trim()).filter(Boolean);
}

const KEY_OPTIONS = {
  'secret-key': { type: 'string' },
  data: { type: 'string' },
} as const;

async function adminKeyFrom(values: { 'secret-key'?: string; data?: string }, env: Record<string, string | undefined>): Promise<AdminKey> {
  const text = values['secret-key'] ?? env.MESHGATE_ADMIN_KEY;
  if (text) return AdminKey.parse(text);
  const dir = values.data ?? './data';
  const key = await readAdminKeyFile(dir);
  if (!key) throw new TokenUsageError(`No admin key: pass --secret-key, set MESHGATE_ADMIN_KEY, or point --data at a directory with admin.key (looked in ${dir}).`);
  return key;
}

async function create(args: string[], io: TokenCommandIO, env: Record<string, string | undefined>): Promise<number> {
  const { values } = parseArgs({
    args,
    strict: true,
    options: {
      ...KEY_OPTIONS,
      domain: { type: 'string', multiple: true },
      requests: { type: 'string' },
      tokens: { type: 'string' },
      'ip-quota': { type: 'string' },
      cost: { type: 'string' },
      'allow-country': { type: 'string', multiple: true },
      'block-country': { type: 'string', multiple: true },
      model: { type: 'string', multiple: true },
      'expires-in': { type: 'string' },
      'expires-at': { type: 'string' },
      'not-before': { type: 'string' },
      jti: { type: 'string' },
      sub: { type: 'string' },
      json: { type: 'boolean' },
    },
  });
  const cost = parseLimit('cost', values.cost, 'lifetime');
  const claims: Record<string, unknown> = {
    domains: values.domain,
    requests: parseLimit('requests', values.requests),
    tokens: parseLimit('tokens', values.tokens),
    ipQuota: parseLimit('ip-quota', values['ip-quota']),
    cost: cost && { limit: cost.limit, currency: 'USD', period: cost.period },
    allowedCountries: list(values['allow-country']),
    blockedCountries: list(values['block-country']),
    models: values.model,
    expiresIn: values['expires-in'] !== undefined ? parseDuration(values['expires-in']) : undefined,
    exp: values['expires-at'] !== undefined ? parseTime(values['expires-at']) : undefined,
    nbf: values['not-before'] !== undefined ? parseTime(values['not-before']) : undefined,
    jti: values.jti,
    sub: values.sub,
  };
  const defined = Object.fromEntries(Object.entries(claims).filter(([, value]) => value !== undefined)) as TokenClaimsInput;
  const key = await adminKeyFrom(values, env);
  const minted = await mintAccessToken(key, defined, io.now?.() ?? Date.now());
  io.out(values.json ? JSON.stringify({ token: minted.token, id: minted.id, expiresAt: minted.expiresAt }) : minted.token);
  return 0;
}

async function verify(args: string[], io: TokenCommandIO, env: Record<string, string | undefined>): Promise<number> {
  const { values, positionals } = parseArgs({ args, strict: true, allowPositionals: true, options: { ...KEY_OPTIONS, 'public-key': { type: 'string' } } });
  const [token] = positionals;
  if (!token || positionals.length > 1) throw new TokenUsageError('usage: meshgate token verify TOKEN');
  const key = values['public-key'] ?? (await adminKeyFrom(values, env));
  const verified = await verifyAccessToken(token, { key, now: io.now?.() });
  io.out(JSON.stringify({ id: verified.id, expiresAt: verified.expiresAt, claims: verified.payload }, null, 2));
  return 0;
}

/** `meshgate token …`: returns the exit code (0 ok, 1 token rejected, 2 usage or claims error). */
export async function runTokenCommand(argv: string[], io: TokenCommandIO): Promise<number> {
  const env = io.env ?? process.env;
  const [sub, ...args] = argv;
  try {
    switch (sub) {
      case 'create':
        return await create(args, io, env);
      case 'verify':
        return await verify(args, io, env);
      case 'public-key': {
        const { values } = parseArgs({ args, strict: true, options: KEY_OPTIONS });
        const key = await adminKeyFrom(values, env);
        io.out(`public key: ${key.publicKeyText}\ngateway id: ${key.gatewayId}`);
        return 0;
      }
      default:
        io.err(sub === undefined || sub === '--help' || sub === '-h' ? TOKEN_USAGE : `meshgate token: unknown subcommand '${sub}'\n\n${TOKEN_USAGE}`);
        return sub === '--help' || sub === '-h' ? 0 : 2;
    }
  } catch (err) {
    if (err instanceof TokenRejectedError) {
      io.err(err.message);
      return 1;
    }
    const usage = err instanceof TokenUsageError || err instanceof TokenClaimsError || err instanceof AdminKeyError
      || (err as { code?: string }).code?.startsWith('ERR_PARSE_ARGS');
    if (!usage) throw err;
    io.err(`meshgate token: ${(err as Error).message}`);
    return 2;
  }
}
