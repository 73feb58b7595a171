import { ConfigError } from '../core/index.js';
import { CountryLookup, QuotaStore, type AccessRules, type QuotaCounters } from '../policy/index.js';
import type { Store } from '../store/index.js';
import type { StateBackend } from '../state/index.js';
import { loadAdminKey, type AdminKey, type LoadedAdminKey } from './admin-key.js';
import { AdminGuard } from './admin-guard.js';
import type { AuthConfig, VirtualKey } from './auth-config.js';
import { Authenticator } from './authenticator.js';
import { CorsPolicy } from './cors-policy.js';
import { adminKeyResolver, virtualKeyResolver, type CredentialResolver } from './credential-resolver.js';
import { ModelPermissions } from './model-permissions.js';
import { PrincipalRules } from './principal-rules.js';
import { QuotaAdmission, type IssuerQuota } from './quota-admission.js';
import { TokenAdmin } from './token-admin.js';
import { TokenRegistry } from './token-registry.js';
import { TokenVerifier } from './token-verifier.js';
import { VirtualKeys } from './virtual-keys.js';

export interface AccessControlOptions {
  auth: AuthConfig;
  keyMap?: VirtualKey[];
  /** This node's LevelDB; not needed when both `tokens` and `state` are given (a worker process). */
  store?: Store;
  /** The token directory, when it lives elsewhere (a worker's replica of its primary's); default: the store's. */
  tokens?: TokenRegistry;
  /** Where admin.key lives when `auth.admin_key` is not configured. */
  dataDir: string;
  /** `server.trust_proxy`: true = one proxy in front, a number = that many. */
  trustProxy?: boolean | number;
  now?: () => number;
  /** Country database; defaults to `auth.geo_db` or the bundled one. */
  geo?: CountryLookup;
  /** Limits for each mesh peer this node serves (mesh.peer_limits), counted per peer id. */
  peerLimits?: AccessRules;
  /** The state backend from `[state]` (quota counters, revocations); absent: this node's LevelDB alone. */
  state?: Pick<StateBackend, 'quotas' | 'revocations'>;
  /**
   * Tokens of trusted gateways (federation): their resolver (asked before this node's own tokens) and where their
   * quota is reserved, built with this node's admin key (its own gateway id is not another gateway).
   */
  federation?: (parts: { adminKey: AdminKey; counters: QuotaCounters }) => { resolver: CredentialResolver; quota: IssuerQuota };
}

/**
 * Access control for one node, as the pieces that do each job: who is asking (`authenticator`: admin key, access
 * tokens, virtual keys, the public; origin and country), which models they may use (`models`), how much (`quotas`,
 * reserved before the upstream call and settled after), which origins may read answers (`cors`), the operator API's
 * guard (`admin`) and token administration (`tokens`). The state they share — token directory and quota counters —
 * sits behind interfaces, so another backend replaces the embedded one without any piece changing.
 * See docs/access-control.md for what each mechanism protects against and what it cannot.
 */
export interface AccessControl {
  readonly adminKey: AdminKey;
  /** How the admin key was obtained; when `generated`, print it once with `file`. */
  readonly adminKeyOrigin: Omit<LoadedAdminKey, 'key'>;
  readonly authenticator: Authenticator;
  /** The rules of each principal (limits, model allowlist, routing defaults and pricing rules). */
  readonly rules: PrincipalRules;
  readonly models: ModelPermissions;
  readonly quotas: QuotaAdmission;
  readonly cors: CorsPolicy;
  readonly admin: AdminGuard;
  readonly tokens: TokenAdmin;
  readonly virtualKeys: VirtualKeys;
  /** The token directory (a primary process shares it with its workers). */
  readonly registry: TokenRegistry;
  /** The quota counters admission reserves on (a primary process counts for its workers). */
  readonly counters: QuotaCounters;
  /** Stops housekeeping and waits for pending quota writes; call before closing the store. */
  close(): Promise<void>;
}

/** How often long-expired tokens are forgotten while the node runs. */
const PRUNE_INTERVAL_MS = 60 * 60_000;

/** The state access control keeps: the token directory in this node's LevelDB, and the quota counters there or in the shared backend. */
async function embeddedState(options: AccessControlOptions, now: () => number): Promise<{ tokens: TokenRegistry; counters: QuotaCounters }> {
  const { store, state: shared } = options;
  const open = () => {
    if (!store) throw new Error('access control needs the store unless tokens and state are both given');
    return store;
  };
  // The state replicas share ([state]): its counters when given, else this node's own in LevelDB.
  return {
    tokens: options.tokens ?? (await TokenRegistry.open(open(), now())),
    counters: shared?.quotas ?? (await QuotaStore.forStore(open(), now)),
  };
}

export async function createAccessControl(options: AccessControlOptions): Promise<AccessControl> {
  const now = options.now ?? Date.now;
  const { auth } = options;
  const loaded = await loadAdminKey({ configured: auth.admin_key?.reveal(), dataDir: options.dataDir });
  const { key: adminKey, ...adminKeyOrigin } = loaded;
  const geo = options.geo ?? new CountryLookup(auth.geo_db);
  // A configured country database is opened now: a wrong path is a start-up error, not a first-request one.
  if (auth.geo_db) {
    try {
      geo.open();
    } catch (err) {
      throw new ConfigError(`Invalid configuration: auth.geo_db: ${(err as Error).message}`);
    }
  }
  const { tokens, counters } = await embeddedState(options, now);
  const revocations = options.state?.revocations;
  const virtualKeys = new VirtualKeys(options.keyMap);
  const rules = new PrincipalRules({ auth, tokens, virtualKeys, peerLimits: options.peerLimits });
  const models = new ModelPermissions(rules);
  const modes = new Set(auth.mode);
  const federation = options.federation?.({ adminKey, counters });
  const resolvers: CredentialResolver[] = [
    adminKeyResolver(adminKey),
    ...(federation && modes.has('token') ? [federation.resolver] : []),
    new TokenVerifier({ adminKey, tokens, revocations, clockSkewSeconds: auth.clock_skew_seconds, accepted: modes.has('token'), now }),
    ...(modes.has('key') ? [virtualKeyResolver(virtualKeys)] : []),
  ];
  const quotas = new QuotaAdmission({ rules, models, counters, issuer: federation?.quota, now });
  const tokenAdmin = new TokenAdmin({ adminKey, tokens, counters, virtualKeys, revocations, now });
  const pruneTimer = setInterval(() => void tokenAdmin.prune().catch(() => undefined), PRUNE_INTERVAL_MS);
  pruneTimer.unref();
  return {
    adminKey,
    adminKeyOrigin,
    authenticator: new Authenticator({ auth, resolvers, rules, geo, trustProxy: options.trustProxy }),
    rules,
    models,
    quotas,
    cors: new CorsPolicy({ auth, rules, tokens, now }),
    admin: new AdminGuard(adminKey),
    tokens: tokenAdmin,
    virtualKeys,
    registry: tokens,
    counters,
    close: async () => {
      clearInterval(pruneTimer);
      await quotas.flush();
    },
  };
}
