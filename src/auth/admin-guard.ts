import { unauthorized } from '../errors/index.js';
import type { AdminKey } from './admin-key.js';
import { presentedCredential, type HeaderBag } from './credentials.js';

/** The operator API's guard: only this gateway's admin key passes. */
export class AdminGuard {
  constructor(private readonly adminKey: AdminKey) {}

  /** 401 unless the request carries the admin key (compared in constant time). */
  authorize(headers: HeaderBag): void {
    const credential = presentedCredential(headers);
    if (credential === undefined) throw unauthorized('The admin API needs the admin key (sk-meshgate-…) as "Authorization: Bearer …", "x-api-key", "x-goog-api-key" or "api-key".', 'missing_admin_key');
    if (!this.adminKey.matches(credential)) throw unauthorized('The admin key is not valid for this gateway.', 'invalid_admin_key');
  }
}
