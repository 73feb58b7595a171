import type { Logger } from 'pino';
import type { Provider } from '../providers/index.js';

export interface Route {
  provider: Provider;
  /** The model name sent upstream (after `model_map`). */
  upstreamModel: string;
  /** For a name pinned to this provider (`provider-id/model`): the model's name, the part after the prefix. */
  pinned?: string;
}

interface Entry {
  provider: Provider;
  models: Set<string>;
  wildcard: boolean;
  discovered: boolean;
  lastError?: string;
}

/** Requested names whose routes `resolve` keeps; beyond, it starts over. */
const MAX_RESOLVED = 1_024;

/** Edit distance, for suggesting close model names on a 404. */
function distance(a: string, b: string): number {
  const row = Array.from({ length: b.length + 1 }, (_, i) => i);
  for (let i = 1; i <= a.length; i++) {
    let previous = row[0]!;
    row[0] = i;
    for (let j = 1; j <= b.length; j++) {
      const saved = row[j]!;
      row[j] = Math.min(row[j]! + 1, row[j - 1]! + 1, previous + (a[i - 1] === b[j - 1] ? 0 : 1));
      previous = saved;
    }
  }
  return row[b.length]!;
}

function entryOf(provider: Provider): Entry {
  const listed = provider.config.models ?? [];
  return {
    provider,
    models: new Set([...listed.filter((m) => m !== '*'), ...Object.keys(provider.config.model_map)]),
    wildcard: listed.includes('*'),
    discovered: provider.config.models === undefined,
  };
}

/**
 * Which provider serves which model. Providers with a `models` list serve exactly those (plus `model_map` keys);
 * `"*"` serves anything; providers without a list are asked for theirs at start and every discovery interval.
 * Order of routes = order of providers in the config (that is the failover order).
 */
export class ModelCatalog {
  private entries: Entry[];
  /**
   * `resolve`'s answers by requested name, made once while the providers and their models stay as they are (every
   * request resolves its model; cleared by `replace` and by a discovery). Bounded: names come from clients.
   */
  private readonly resolved = new Map<string, readonly Route[]>();
  private timer?: NodeJS.Timeout;
  private discoveryTimeoutMs = 5_000;

  constructor(providers: Provider[], private readonly logger?: Logger) {
    this.entries = providers.map(entryOf);
  }

  /** Discovers model lists now, then again every `intervalMs` in the background (providers added later included). */
  async start(intervalMs: number, timeoutMs = 5_000): Promise<void> {
    this.discoveryTimeoutMs = timeoutMs;
    await this.discover(timeoutMs);
    this.timer = setInterval(() => void this.discover(timeoutMs), intervalMs);
    this.timer.unref();
  }

  stop(): void {
    if (this.timer) clearInterval(this.timer);
  }

  /**
   * Replaces the provider list (run-time changes, config reload). A provider passed again as the same object keeps
   * its discovered models; a new object starts afresh and, when it discovers its models, is asked for them now
   * (bounded by the discovery timeout) before it takes requests, unless `discover` is false (at start, where
   * `start` discovers every provider).
   * Requests already routed hold their `Route` and finish on the provider they were given.
   */
  async replace(providers: Provider[], options: { discover: boolean } = { discover: true }): Promise<void> {
    const kept = new Map(this.entries.map((e) => [e.provider, e]));
    const fresh = providers.filter((p) => !kept.has(p)).map(entryOf);
    if (options.discover) await Promise.all(fresh.filter((e) => e.discovered).map((e) => this.discoverEntry(e, this.discoveryTimeoutMs)));
    const byProvider = new Map(fresh.map((e) => [e.provider, e]));
    this.entries = providers.map((p) => kept.get(p) ?? byProvider.get(p)!);
    this.resolved.clear();
  }

  async discover(timeoutMs: number): Promise<void> {
    await Promise.all(this.entries.filter((e) => e.discovered).map((entry) => this.discoverEntry(entry, timeoutMs)));
  }

  private async discoverEntry(entry: Entry, timeoutMs: number): Promise<void> {
    try {
      const models = await entry.provider.discoverModels(AbortSignal.timeout(timeoutMs));
      entry.models = new Set([...models, ...Object.keys(entry.provider.config.model_map)]);
      this.resolved.clear();
      entry.lastError = undefined;
      this.logger?.info({ provider: entry.provider.id, models: models.length }, 'discovered provider models');
    } catch (err) {
      entry.lastError = (err as Error).message;
      this.logger?.warn({ provider: entry.provider.id, err: entry.lastError }, 'model discovery failed; will retry');
    }
  }

  private upstreamName(provider: Provider, model: string): string {
    return provider.config.model_map[model] ?? model;
  }

  /** The providers, in config order. */
  providers(): Provider[] {
    return this.entries.map((e) => e.provider);
  }

  /** One provider by id. */
  provider(id: string): Provider | undefined {
    return this.entryById(id)?.provider;
  }

  /** A loop rather than `find` with a closure: every request looks its providers up. */
  private entryById(id: string): Entry | undefined {
    for (const entry of this.entries) if (entry.provider.id === id) return entry;
    return undefined;
  }

  /** The route to one provider for a model (its `model_map` applied), whether or not the provider lists the model. */
  routeTo(providerId: string, model: string): Route | undefined {
    const entry = this.entryById(providerId);
    return entry && { provider: entry.provider, upstreamModel: this.upstreamName(entry.provider, model) };
  }

  /** Routes for a requested model, in failover order. `provider-id/model` pins one provider. Shared: never change them. */
  resolve(model: string): readonly Route[] {
    let routes = this.resolved.get(model);
    if (routes === undefined) {
      if (this.resolved.size >= MAX_RESOLVED) this.resolved.clear();
      routes = Object.freeze(this.routesFor(model));
      this.resolved.set(model, routes);
    }
    return routes;
  }

  private routesFor(model: string): Route[] {
    const slash = model.indexOf('/');
    if (slash > 0) {
      const pinned = this.entryById(model.slice(0, slash));
      if (pinned) {
        const rest = model.slice(slash + 1);
        return [{ provider: pinned.provider, upstreamModel: this.upstreamName(pinned.provider, rest), pinned: rest }];
      }
    }
    const routes: Route[] = [];
    for (const entry of this.entries) {
      if (entry.wildcard || entry.models.has(model)) routes.push({ provider: entry.provider, upstreamModel: this.upstreamName(entry.provider, model) });
    }
    return routes;
  }

  /** Every known model with the providers serving it, in config order. */
  list(): Array<{ id: string; providers: string[] }> {
    const byModel = new Map<string, string[]>();
    for (const entry of this.entries) {
      for (const model of entry.models) {
        const list = byModel.get(model) ?? [];
        list.push(entry.provider.id);
        byModel.set(model, list);
      }
    }
    return [...byModel.entries()].map(([id, providers]) => ({ id, providers })).sort((a, b) => a.id.localeCompare(b.id));
  }

  providerModels(providerId: string): { models: string[]; wildcard: boolean; lastError?: string } | undefined {
    const entry = this.entryById(providerId);
    return entry && { models: [...entry.models], wildcard: entry.wildcard, lastError: entry.lastError };
  }

  closeMatches(model: string, limit = 3): string[] {
    const lower = model.toLowerCase();
    return this.list()
      .map(({ id }) => ({ id, score: id.toLowerCase().includes(lower) || lower.includes(id.toLowerCase()) ? 0 : distance(lower, id.toLowerCase()) }))
      .filter(({ id, score }) => score <= Math.max(3, Math.floor(id.length / 3)))
      .sort((a, b) => a.score - b.score)
      .slice(0, limit)
      .map(({ id }) => id);
  }
}
