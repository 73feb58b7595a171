import { MAX_JSON_DEPTH, nestsTooDeep } from '../core/index.js';
import { badRequest } from '../errors/index.js';

/** Throws a 400 when `body` nests deeper than MAX_JSON_DEPTH (see core/json-depth.ts for why there is a limit). */
export function checkBodyDepth(body: unknown): void {
  if (nestsTooDeep(body)) throw badRequest(`The request body nests arrays and objects more than ${MAX_JSON_DEPTH} levels deep.`);
}
