import type { PrincipalRef } from '../core/index.js';
import { unauthorized } from '../errors/index.js';
import type { AccessRules } from '../policy/index.js';
import type { AuthConfig } from './auth-config.js';
import type { Principal } from './principal.js';
import type { TokenDirectory } from './token-registry.js';
import type { VirtualKeys } from './virtual-keys.js';

export interface PrincipalRulesOptions {
  auth: Pick<AuthConfig, 'public_limits' | 'clock_skew_seconds'>;
  tokens: Pick<TokenDirectory, 'get'>;
  virtualKeys: VirtualKeys;
  /** Limits for each mesh peer this node serves (mesh.peer_limits), counted per peer id. */
  peerLimits?: AccessRules;
}

/**
 * The rules that apply to a principal, the scope its counters are kept under, and how long they matter. A token's
 * claims come from the token directory, where every verified token is recorded; a token or key id that is not known
 * there gets no rules at all, and is refused (fail closed).
 */
export class PrincipalRules {
  constructor(private readonly options: PrincipalRulesOptions) {}

  of(principal: PrincipalRef): AccessRules {
    switch (principal.kind) {
      case 'token': {
        if ('claims' in principal) return (principal as Extract<Principal, { kind: 'token' }>).claims;
        const claims = principal.id === undefined ? undefined : this.options.tokens.get(principal.id)?.payload;
        if (!claims) throw unauthorized('The access token is not known to this gateway.', 'token_unknown');
        return claims;
      }
      case 'virtual_key': {
        const vk = this.options.virtualKeys.byId(principal.id);
        if (!vk) throw unauthorized('The API key is not valid for this gateway.', 'invalid_api_key');
        return vk.rules;
      }
      case 'public':
        return this.options.auth.public_limits;
      case 'peer':
        return this.options.peerLimits ?? {};
      case 'admin':
        return {};
    }
  }

  /** The quota scope of a principal's counters: `token:<jti>`, `key:<id>`, `peer:<id>`, `public`, `admin`. */
  scope(principal: PrincipalRef): string {
    switch (principal.kind) {
      case 'token':
        return `token:${principal.id}`;
      case 'virtual_key':
        return `key:${principal.id}`;
      case 'peer':
        return `peer:${principal.id}`;
      default:
        return principal.kind;
    }
  }

  /** A token's counters are useless once it expired (with the clock tolerance): even lifetime ones may go then. */
  retainUntil(principal: PrincipalRef): number | undefined {
    if (principal.kind !== 'token' || principal.id === undefined) return undefined;
    const expiresAt = this.options.tokens.get(principal.id)?.expiresAt;
    return expiresAt == null ? undefined : expiresAt + this.options.auth.clock_skew_seconds * 1000;
  }
}
