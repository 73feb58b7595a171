import { badRequest } from '../errors/index.js';

/**
 * `n` > 1 (Gemini `candidateCount` > 1) for a target that returns one choice per request, or whose answer this
 * gateway translates back with its first choice only: refused, never served with fewer choices than asked for (the
 * others would be paid for and lost, and a client reading `choices[1]` would find nothing). Every provider type
 * answers it with the same 400 `not_translatable`, param `n`; an OpenAI target of an OpenAI client serves it.
 */
export function refuseSeveralChoices(n: unknown, target: string): void {
  if (typeof n === 'number' && n > 1) throw badRequest(`${target}: more than one choice (n = ${n}) cannot be served through this provider; send n = 1, or use an OpenAI-format provider with the OpenAI API.`, 'n', 'not_translatable');
}
