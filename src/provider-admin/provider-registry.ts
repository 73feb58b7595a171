import type { Logger } from 'pino';
import type { ProviderConfig } from '../core-config/index.js';
import { GatewayError } from '../errors/index.js';
import { createProvider, type Provider } from '../providers/index.js';
import type { CircuitBreaker } from '../router/circuit-breaker.js';
import type { ModelCatalog } from '../router/model-catalog.js';
import { hasCredentials, keepHiddenSecrets, mergePatch, parseProviderBlock, providerFingerprint, redactProviderBlock, type ProviderBlock } from './provider-block.js';
import type { RuntimeProviderStore, StoredProvider } from './runtime-provider-store.js';

export interface ProviderRegistryDeps {
  catalog: ModelCatalog;
  /** The breakers the router and the pipeline read, kept to one per active provider. */
  breakers: Map<string, CircuitBreaker>;
  newBreaker: (providerId: string) => CircuitBreaker;
  /** A provider id no longer served (deleted, or gone from a reloaded file): per-provider series can go. */
  onRemoved?: (providerId: string) => void;
  /** Resolves once the requests in flight now have finished (a replaced provider is closed after that). */
  settled: () => Promise<void>;
  store: RuntimeProviderStore;
  logger: Logger;
  /** Where `${VAR}` references of run-time blocks are resolved (default: process.env). */
  env?: NodeJS.ProcessEnv;
  create?: (config: ProviderConfig) => Provider;
}

/** A provider as the admin API shows it: where it comes from and, for a run-time one, its block with secrets hidden. */
export interface ProviderAdminView {
  id: string;
  type: string;
  source: 'config' | 'runtime';
  /** Whether the provider carries a credential of its own (values are never shown). */
  credentials: 'set' | 'unset';
  /** Run-time providers: the block as given, each literal secret shown as "set". */
  config?: ProviderBlock;
  created_at?: number;
  updated_at?: number;
  /** `left_out`: stored, but not serving since this start (see `error`); PATCH it to fix it, or DELETE it. */
  status?: 'serving' | 'left_out';
  error?: string;
}

interface RuntimeEntry {
  stored: StoredProvider;
  config: ProviderConfig;
}

interface Active {
  provider: Provider;
  fingerprint: string;
}

/**
 * The providers a node serves with: those of the config file (read-only at run time; replaced by a reload) followed
 * by those added through `POST /v1/providers` (kept sealed in LevelDB, so they survive a restart). Every change —
 * add, patch, delete, reload — computes the new list and applies it at once: unchanged providers stay the same
 * objects (connection pools, discovered models and circuit state kept), new or changed ones are built fresh, and a
 * provider taken out is closed only once the requests in flight at the change have finished on it. Changes are
 * applied one at a time, in the order they were asked for.
 */
export class ProviderRegistry {
  private file: ProviderConfig[] = [];
  private readonly runtime = new Map<string, RuntimeEntry>();
  /** Stored run-time providers that could not be read or built at start, with why (the block, when it could be read). */
  private readonly leftOut = new Map<string, { reason: string; stored?: StoredProvider }>();
  private active = new Map<string, Active>();
  private queue: Promise<unknown> = Promise.resolve();
  private readonly retiring = new Set<Promise<void>>();
  /** Resolved by `close()`: replaced providers still waiting for their requests are closed at once then. */
  private readonly shuttingDown: { promise: Promise<void>; resolve: () => void };
  private readonly env: NodeJS.ProcessEnv;
  private readonly create: (config: ProviderConfig) => Provider;

  private constructor(private readonly deps: ProviderRegistryDeps) {
    let resolve!: () => void;
    this.shuttingDown = { promise: new Promise<void>((done) => (resolve = done)), resolve };
    this.env = deps.env ?? process.env;
    this.create = deps.create ?? ((config) => createProvider(config));
  }

  /**
   * The file's providers and the stored run-time ones, built and put in the catalog (models not discovered yet: the
   * catalog's start does that). A stored provider that no longer reads (another admin key, a variable now unset, a
   * schema it no longer passes) or whose id the file now uses is left out with a warning, and stays stored.
   */
  static async open(deps: ProviderRegistryDeps, fileProviders: ProviderConfig[]): Promise<ProviderRegistry> {
    const registry = new ProviderRegistry(deps);
    registry.file = fileProviders;
    const { providers, unreadable } = await deps.store.list();
    const leaveOut = (id: string, reason: string, stored?: StoredProvider) => {
      registry.leftOut.set(id, { reason, stored });
      deps.logger.warn({ provider: id, err: reason }, 'run-time provider left out (PATCH it to fix it, or DELETE it)');
    };
    for (const { id, reason } of unreadable) leaveOut(id, `it cannot be read: ${reason}`);
    for (const stored of providers) {
      try {
        registry.runtime.set(stored.id, { stored, config: parseProviderBlock(stored.block, `run-time provider "${stored.id}"`, registry.env) });
      } catch (err) {
        leaveOut(stored.id, (err as Error).message, stored);
      }
    }
    for (const warning of registry.shadowWarnings()) deps.logger.warn(warning);
    // A stored provider that cannot be built now (its type's credentials gone from the environment) is left out, not
    // a reason to refuse to start; the file's providers fail the start as they always did.
    await registry.apply(false, (config, err) => {
      const entry = registry.runtime.get(config.id);
      if (!entry || registry.file.some((p) => p.id === config.id)) return false;
      registry.runtime.delete(config.id);
      leaveOut(config.id, `it cannot be built: ${err.message}`, entry.stored);
      return true;
    });
    return registry;
  }

  /** The providers serving now, in failover order. */
  providers(): Provider[] {
    return [...this.active.values()].map((a) => a.provider);
  }

  /** Where a provider comes from, or undefined for an unknown id. */
  sourceOf(id: string): 'config' | 'runtime' | undefined {
    if (this.file.some((p) => p.id === id)) return 'config';
    return this.runtime.has(id) || this.leftOut.has(id) ? 'runtime' : undefined;
  }

  view(id: string): ProviderAdminView | undefined {
    const fromFile = this.file.find((p) => p.id === id);
    if (fromFile) return { id, type: fromFile.preset ?? fromFile.type, source: 'config', credentials: hasCredentials(fromFile) ? 'set' : 'unset' };
    const entry = this.runtime.get(id);
    const left = this.leftOut.get(id);
    if (left) {
      // Its block did not parse, so which of its fields are secrets is not known: none is shown.
      const type = left.stored?.block.type;
      return {
        id, type: typeof type === 'string' ? type : 'unknown', source: 'runtime', credentials: 'unset', status: 'left_out', error: left.reason,
        ...(left.stored ? { created_at: left.stored.createdAt, updated_at: left.stored.updatedAt } : {}),
      };
    }
    if (!entry) return undefined;
    const { stored, config } = entry;
    return {
      id, type: config.preset ?? config.type, source: 'runtime', credentials: hasCredentials(config) ? 'set' : 'unset',
      config: redactProviderBlock(stored.block, config), created_at: stored.createdAt, updated_at: stored.updatedAt, status: 'serving',
    };
  }

  /** `POST /v1/providers`: validated, stored, then serving. */
  add(block: unknown): Promise<ProviderAdminView> {
    return this.serialised(async () => {
      const config = parseProviderBlock(block, 'the provider block', this.env);
      if (this.sourceOf(config.id)) throw new GatewayError('provider_exists', `A provider with id "${config.id}" already exists (${this.sourceOf(config.id) === 'config' ? 'in the config file' : 'added at run time'}).`, { param: 'id' });
      const now = Date.now();
      await this.change(config.id, { stored: { id: config.id, block: block as ProviderBlock, createdAt: now, updatedAt: now }, config });
      return this.view(config.id)!;
    });
  }

  /** `PATCH /v1/providers/:id`: a JSON Merge Patch over the block as given, validated again as a whole. */
  patch(id: string, patch: unknown): Promise<ProviderAdminView> {
    return this.serialised(async () => {
      const entry = this.writable(id);
      if (patch === null || typeof patch !== 'object' || Array.isArray(patch)) {
        throw new GatewayError('invalid_provider_config', 'A PATCH body is a JSON object (RFC 7386 merge patch): the fields to change, null to remove one.');
      }
      const patchId = (patch as Record<string, unknown>).id;
      if (patchId !== undefined && patchId !== id) throw new GatewayError('invalid_provider_config', 'A provider\'s id cannot be changed: add it under the new id and delete the old one.', { param: 'id' });
      const merged = mergePatch(entry.stored.block, patch) as ProviderBlock;
      const block = entry.config ? keepHiddenSecrets(merged, entry.stored.block, entry.config) : merged;
      const config = parseProviderBlock(block, `the patched provider "${id}"`, this.env);
      await this.change(id, { stored: { ...entry.stored, block, updatedAt: Math.max(Date.now(), entry.stored.updatedAt) }, config });
      this.leftOut.delete(id);
      return this.view(id)!;
    });
  }

  /** `DELETE /v1/providers/:id`: out of routing at once, closed once its in-flight requests have finished. */
  remove(id: string): Promise<void> {
    return this.serialised(async () => {
      if (this.leftOut.has(id)) {
        await this.deps.store.delete(id);
        this.leftOut.delete(id);
        this.deps.logger.info({ provider: id, change: 'deleted' }, 'run-time provider changed');
        return;
      }
      this.writable(id);
      await this.change(id, undefined);
    });
  }

  /**
   * A reloaded config file's providers. A run-time provider whose id the file now uses is left out (the file's
   * wins) and named in the returned warnings; it stays stored, and serves again if the file drops that id.
   */
  replaceFileProviders(providers: ProviderConfig[]): Promise<string[]> {
    return this.serialised(async () => {
      const previous = this.file;
      this.file = providers;
      try {
        await this.apply(true);
      } catch (err) {
        this.file = previous;
        throw err;
      }
      return this.shadowWarnings().map((w) => w.msg);
    });
  }

  /** New circuit breakers for every provider (a reload changed `routing.circuit_breaker`): all start closed. */
  rebuildBreakers(): void {
    for (const id of this.active.keys()) this.deps.breakers.set(id, this.deps.newBreaker(id));
  }

  /** Waits for the changes asked for and for replaced providers to close (call before closing the node's providers). */
  async close(): Promise<void> {
    await this.queue.catch(() => undefined);
    this.shuttingDown.resolve();
    await Promise.all(this.retiring);
  }

  /** A run-time entry (its stored block, for a left-out one) by id, or why it cannot be changed through the API. */
  private writable(id: string): { stored: StoredProvider; config?: ProviderConfig } {
    const entry = this.runtime.get(id);
    if (entry) return entry;
    const left = this.leftOut.get(id);
    if (left?.stored) return { stored: left.stored };
    if (left) throw new GatewayError('invalid_provider_config', `Provider "${id}" is stored but cannot be read (${left.reason}): DELETE it and add it again.`);
    if (this.file.some((p) => p.id === id)) throw new GatewayError('provider_read_only', `Provider "${id}" comes from the config file: change it there and reload (SIGHUP or POST /v1/admin/reload).`);
    throw new GatewayError('provider_not_found', `No provider "${id}" on this node.`);
  }

  /** Sets (or, with undefined, removes) one run-time entry: applied first, then stored; undone if either fails. */
  private async change(id: string, next: RuntimeEntry | undefined): Promise<void> {
    const previous = this.runtime.get(id);
    const set = (entry: RuntimeEntry | undefined) => (entry ? this.runtime.set(id, entry) : this.runtime.delete(id));
    set(next);
    try {
      await this.apply(true);
    } catch (err) {
      set(previous);
      throw err instanceof GatewayError ? err : new GatewayError('invalid_provider_config', `Provider "${id}" cannot be built: ${(err as Error).message}`);
    }
    try {
      if (next) await this.deps.store.put(next.stored);
      else await this.deps.store.delete(id);
    } catch (err) {
      set(previous);
      await this.apply(true).catch((undo: Error) => this.deps.logger.error({ err: undo.message }, 'providers: undoing a change that could not be stored failed'));
      throw err;
    }
    this.deps.logger.info({ provider: id, change: next ? (previous ? 'patched' : 'added') : 'deleted' }, 'run-time provider changed');
  }

  /** The file's providers, then the run-time ones whose id the file does not use, in creation order. */
  private effective(): ProviderConfig[] {
    const fileIds = new Set(this.file.map((p) => p.id));
    return [...this.file, ...[...this.runtime.values()].filter((e) => !fileIds.has(e.stored.id)).map((e) => e.config)];
  }

  private shadowWarnings(): Array<{ provider: string; msg: string }> {
    const fileIds = new Set(this.file.map((p) => p.id));
    return [...this.runtime.keys()].filter((id) => fileIds.has(id)).map((id) => ({
      provider: id,
      msg: `run-time provider "${id}" is left out: the config file defines a provider with the same id (DELETE /v1/providers/${id} removes the stored one)`,
    }));
  }

  /** `skipBroken` (at open only): whether a provider that cannot be built is left out instead of failing the change. */
  private async apply(discover: boolean, skipBroken?: (config: ProviderConfig, err: Error) => boolean): Promise<void> {
    const previous = this.active;
    const next = new Map<string, Active>();
    const built: Provider[] = [];
    try {
      for (const config of this.effective()) {
        const fingerprint = providerFingerprint(config);
        const old = previous.get(config.id);
        if (old?.fingerprint === fingerprint) {
          next.set(config.id, old);
          continue;
        }
        let provider: Provider;
        try {
          provider = this.create(config);
        } catch (err) {
          if (skipBroken?.(config, err as Error)) continue;
          throw err;
        }
        built.push(provider);
        next.set(config.id, { provider, fingerprint });
      }
    } catch (err) {
      await Promise.all(built.map((p) => p.close()));
      throw err;
    }
    await this.deps.catalog.replace([...next.values()].map((a) => a.provider), { discover });
    // A rebuilt provider starts with a closed breaker: a new key or URL deserves a fresh chance.
    for (const [id, entry] of next) if (previous.get(id) !== entry) this.deps.breakers.set(id, this.deps.newBreaker(id));
    for (const id of previous.keys()) {
      if (next.has(id)) continue;
      this.deps.breakers.delete(id);
      this.deps.onRemoved?.(id);
    }
    this.active = next;
    const retired = [...previous.values()].filter((a) => next.get(a.provider.id) !== a).map((a) => a.provider);
    if (retired.length > 0) this.retire(retired);
  }

  /**
   * Closes providers taken out of routing once the requests in flight now (some of them on those) have finished, or
   * at once when the node shuts down (its own drain has ended them by then).
   */
  private retire(providers: Provider[]): void {
    const closing = Promise.race([this.deps.settled(), this.shuttingDown.promise])
      .then(() => Promise.all(providers.map((p) => p.close())))
      .then(() => this.deps.logger.debug({ providers: providers.map((p) => p.id) }, 'replaced providers closed'))
      .catch((err: Error) => this.deps.logger.warn({ err: err.message }, 'closing a replaced provider failed'))
      .finally(() => this.retiring.delete(closing));
    this.retiring.add(closing);
  }

  private serialised<T>(work: () => Promise<T>): Promise<T> {
    const run = this.queue.then(work, work);
    this.queue = run.catch(() => undefined);
    return run;
  }
}
