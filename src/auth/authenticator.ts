import { forbidden, unauthorized } from '../errors/index.js';
import { clientIp, countryVerdict, needsCountry, type ClientAddressSource, type CountryLookup } from '../policy/index.js';
import type { AccessMode, AuthConfig } from './auth-config.js';
import type { CredentialResolver } from './credential-resolver.js';
import { checkOrigin, originHost, requestOrigin } from './origin.js';
import { CREDENTIAL_SOURCES_TEXT, presentedCredential, type HeaderBag } from './credentials.js';
import type { Principal } from './principal.js';
import type { PrincipalRules } from './principal-rules.js';

export interface AuthRequest {
  headers: HeaderBag;
  /** The client address (from `clientIp`), for geo rules. */
  ip?: string;
  /** The `key` query parameter(s) of a `/v1beta/` request (Gemini REST), already removed from its URL. */
  queryKeys?: readonly string[];
}

export interface AuthenticatorOptions {
  auth: Pick<AuthConfig, 'mode' | 'unknown_country'>;
  /** Asked in order for the presented credential (admin key, access tokens, virtual keys). */
  resolvers: CredentialResolver[];
  rules: PrincipalRules;
  geo: CountryLookup;
  /** `server.trust_proxy`: true = one proxy in front, a number = that many. */
  trustProxy?: boolean | number;
}

/**
 * Who is asking: the principal a request's credential stands for (or the public, in public mode), held to its
 * credential's origin binding and country rules.
 */
export class Authenticator {
  private readonly modes: Set<AccessMode>;

  constructor(private readonly options: AuthenticatorOptions) {
    this.modes = new Set(options.auth.mode);
  }

  /** The address per-IP quotas and geo rules use, honouring `trust_proxy`. */
  clientIp(source: ClientAddressSource): string | undefined {
    return clientIp(source, this.options.trustProxy ?? false);
  }

  country(ip: string | undefined): string | undefined {
    return ip === undefined ? undefined : this.options.geo.country(ip);
  }

  /** Establishes the principal; throws 401 (credentials) or 403 (origin, country). */
  async authenticate(request: AuthRequest): Promise<Principal> {
    const principal = await this.identify(presentedCredential(request.headers, request.queryKeys));
    const rules = this.options.rules.of(principal);
    const origin = requestOrigin(request.headers);
    const verdict = checkOrigin(origin, rules.domains);
    if (verdict === 'missing') throw forbidden('This credential is bound to web origins and the request has no Origin or Referer header.', 'origin_required');
    if (verdict === 'not_allowed') throw forbidden(`Origin ${originHost(origin!) ?? 'of this request'} is not allowed for this credential.`, 'origin_not_allowed');
    if (needsCountry(rules)) {
      const country = this.country(request.ip);
      const geo = countryVerdict(rules, country, this.options.auth.unknown_country);
      if (!geo.allowed) {
        throw forbidden(
          geo.reason === 'unknown' ? 'Requests from an unknown country are not allowed.' : `Requests from country ${country} are not allowed.`,
          'country_not_allowed',
          { country: country ?? null },
        );
      }
    }
    return principal;
  }

  /**
   * The principal a credential stands for by its resolvers alone (no origin, country or public fallback): for a
   * credential that did not come with an HTTP request, such as a token whose quota a trusting node reserves here.
   */
  async resolve(credential: string): Promise<Principal | undefined> {
    for (const resolver of this.options.resolvers) {
      const principal = await resolver.resolve(credential);
      if (principal) return principal;
    }
    return undefined;
  }

  private async identify(credential: string | undefined): Promise<Principal> {
    if (credential !== undefined) {
      const principal = await this.resolve(credential);
      if (principal) return principal;
    }
    if (this.modes.has('public')) return { kind: 'public' };
    if (credential === undefined) throw unauthorized(`Missing credentials: send an access token or API key as ${CREDENTIAL_SOURCES_TEXT}.`, 'missing_credentials');
    throw unauthorized('The API key is not valid for this gateway.', 'invalid_api_key');
  }
}
