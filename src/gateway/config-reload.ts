import type { FastifyPluginAsync } from 'fastify';
import type { Logger } from 'pino';
import { z } from 'zod';
import type { VirtualKeys } from '../auth/index.js';
import { ConfigError, type Config } from '../config/index.js';
import { GatewayError } from '../errors/index.js';
import type { RouteDoc } from '../openapi/index.js';
import type { PriceBook } from '../pricing/index.js';
import { comparableJson, type ProviderRegistry } from '../provider-admin/index.js';
import type { Router } from '../router/router.js';

/** What a reload did: keys applied, keys changed in the file that take effect only at the next start, warnings. */
export interface ReloadResult {
  source: string;
  applied: string[];
  restart_required: string[];
  warnings: string[];
}

export interface ConfigReloaderDeps {
  /** The running config: the sections a reload applies are replaced in it (the pipeline reads `routing` per request). */
  config: Config;
  /** Reads the file again, with the start-up overrides; absent: started without a file. */
  load?: () => Promise<Config>;
  source: string;
  registry: ProviderRegistry;
  router: Router;
  priceBook: PriceBook;
  virtualKeys: VirtualKeys;
  logger: Logger;
}

/**
 * Keys a reload applies, whole sections or `section.key`; every other key that changed is reported as needing a
 * restart (the listener, storage, the mesh, the state backend, the admin key, …) and left as it runs.
 */
const APPLIED = [
  'providers', 'models', 'pricing', 'key_map',
  'routing.max_attempts', 'routing.max_retry_wait_ms', 'routing.backoff_ms', 'routing.circuit_breaker', 'routing.profiles', 'routing.fallbacks',
  'auth.public_limits', 'auth.unknown_country', 'auth.cors_origins',
] as const;

/**
 * `SIGHUP` and `POST /v1/admin/reload`: the config file read and checked again as at start. A file that does not
 * load changes nothing (its problems are logged and returned, the running config stays); a valid one replaces the
 * providers first — the step that can still fail, on a provider that cannot be built — then routing rules, prices,
 * virtual keys and the public limits. One reload at a time.
 */
export class ConfigReloader {
  private queue: Promise<unknown> = Promise.resolve();

  constructor(private readonly deps: ConfigReloaderDeps) {}

  reload(): Promise<ReloadResult> {
    const run = this.queue.then(() => this.run());
    this.queue = run.catch(() => undefined);
    return run;
  }

  private async run(): Promise<ReloadResult> {
    const { deps } = this;
    if (!deps.load) {
      deps.logger.warn('config reload asked for, but this node was started without a config file: nothing to reload');
      throw new GatewayError('reload_unavailable', 'This node was started without a config file (defaults and environment): there is nothing to reload. Start it with --config FILE.');
    }
    let next: Config;
    try {
      next = await deps.load();
    } catch (err) {
      if (!(err instanceof ConfigError)) throw err;
      deps.logger.error({ source: deps.source, err: err.message }, 'config reload refused: the running config stays');
      throw new GatewayError('config_reload_failed', `${err.message}\nThe running config stays as it was.`);
    }
    const changed = changedKeys(deps.config, next);
    const isApplied = (key: string) => APPLIED.some((hot) => key === hot || key.startsWith(`${hot}.`) || hot.startsWith(`${key}.`));
    const applied = changed.filter(isApplied);
    const restartRequired = changed.filter((key) => !isApplied(key));
    const touched = (prefix: string) => applied.some((key) => key === prefix || key.startsWith(`${prefix}.`));
    let warnings: string[] = [];
    if (touched('providers')) {
      try {
        warnings = await deps.registry.replaceFileProviders(next.providers);
      } catch (err) {
        const message = `Invalid configuration in ${deps.source}: ${(err as Error).message}`;
        deps.logger.error({ source: deps.source, err: message }, 'config reload refused: the running config stays');
        throw new GatewayError('config_reload_failed', `${message}\nThe running config stays as it was.`);
      }
    }
    const live = deps.config;
    live.providers = next.providers;
    live.models = next.models;
    live.routing = { ...next.routing, discovery_interval_seconds: live.routing.discovery_interval_seconds };
    live.pricing = next.pricing;
    live.key_map = next.key_map;
    // Read where they are used, per request (principal rules, geo verdicts, CORS), so replacing them in place applies.
    live.auth.public_limits = next.auth.public_limits;
    live.auth.unknown_country = next.auth.unknown_country;
    live.auth.cors_origins = next.auth.cors_origins;
    if (touched('models') || touched('routing.profiles') || touched('routing.fallbacks')) {
      deps.router.reconfigure({ models: next.models, profiles: next.routing.profiles, fallbacks: next.routing.fallbacks });
    }
    if (touched('routing.circuit_breaker')) deps.registry.rebuildBreakers();
    if (touched('pricing')) deps.priceBook.reconfigure(next.pricing);
    if (touched('key_map')) deps.virtualKeys.replace(next.key_map);
    for (const key of restartRequired) warnings.push(`${key} changed in the file: it takes effect at the next start`);
    const result: ReloadResult = { source: deps.source, applied, restart_required: restartRequired, warnings };
    deps.logger.info(result, applied.length || restartRequired.length ? 'config reloaded' : 'config reloaded: nothing changed');
    return result;
  }
}

/** Sections keyed by the operator's own names (model names, provider ids…): named whole when they change. */
const NAMED_WHOLE = new Set(['providers', 'models', 'pricing', 'key_map']);

/** The keys (`section` or `section.key`) whose values differ between two configs. */
export function changedKeys(before: Config, after: Config): string[] {
  const changed: string[] = [];
  const sections = new Set([...Object.keys(before), ...Object.keys(after)]);
  for (const section of sections) {
    const a = (before as Record<string, unknown>)[section];
    const b = (after as Record<string, unknown>)[section];
    if (comparableJson(a) === comparableJson(b)) continue;
    if (NAMED_WHOLE.has(section) || !isPlainObject(a) || !isPlainObject(b)) {
      changed.push(section);
      continue;
    }
    for (const key of new Set([...Object.keys(a), ...Object.keys(b)])) {
      if (comparableJson(a[key]) !== comparableJson(b[key])) changed.push(`${section}.${key}`);
    }
  }
  return changed;
}

const isPlainObject = (value: unknown): value is Record<string, unknown> => value !== null && typeof value === 'object' && !Array.isArray(value);

const reloadResultSchema = z.object({
  source: z.string().describe('The config file read.'),
  applied: z.array(z.string()).describe('Keys that changed and now apply (`providers`, `models`, `routing.profiles`, `auth.public_limits`, …).'),
  restart_required: z.array(z.string()).describe('Keys that changed in the file but take effect only at the next start (`server.port`, `mesh`, `state`, …).'),
  warnings: z.array(z.string()),
});

const reloadDoc: RouteDoc = {
  tag: 'Admin', summary: 'Reload the config file',
  description: 'Reads the config file again (as `SIGHUP` does) and applies what can change while the node runs: providers, `[[models]]`, routing rules, prices, virtual keys and the public limits. An invalid file is refused with the same messages as at start (409 `config_reload_failed`) and the running config stays. Keys that need a restart are listed.',
  responses: { 200: { description: 'What the reload applied and what waits for a restart.', schema: reloadResultSchema } },
};

/** `POST /v1/admin/reload` (admin key, in the admin plugin). */
export function reloadRoute(reloader: ConfigReloader): FastifyPluginAsync {
  return async (app) => {
    app.post('/v1/admin/reload', { config: { doc: reloadDoc } }, async () => reloader.reload());
  };
}
