import type { PrincipalRef } from '../core/index.js';
import { forbidden } from '../errors/index.js';
import { modelAllowed } from '../policy/index.js';
import type { PrincipalRules } from './principal-rules.js';

/** Which models a principal may use (a token's or key's `models` allowlist, the peer limits for mesh peers). */
export class ModelPermissions {
  constructor(private readonly rules: PrincipalRules) {}

  /** 403 unless the principal may use `model`. */
  check(principal: PrincipalRef, model: string): void {
    if (!modelAllowed(this.rules.of(principal), model)) throw forbidden(`Model "${model}" is not allowed for this credential.`, 'model_not_allowed', { model });
  }
}
