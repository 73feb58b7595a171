import { notFound, type GatewayError } from '../errors/index.js';

/**
 * The 404 for a model that nothing reachable serves: no provider of this node and, when the mesh was searched, no
 * peer either. Close matches from this node's catalog are named in the message and in `details.suggestions`.
 */
export function modelNotFound(model: string, options: { meshSearched?: boolean; suggestions?: string[] } = {}): GatewayError {
  const suggestions = options.suggestions ?? [];
  const where = options.meshSearched ? 'this gateway or any reachable mesh peer' : 'this gateway';
  return notFound(
    `The model '${model}' is not served by ${where}${suggestions.length ? `; did you mean ${suggestions.map((s) => `'${s}'`).join(', ')}?` : '.'} See GET /v1/models.`,
    'model_not_found',
    suggestions.length ? { suggestions } : undefined,
  );
}
