import type { Agent as UndiciAgent, Dispatcher, errors as UndiciErrors } from 'undici';
import AgentClass from 'undici/lib/dispatcher/agent.js';
import errorsModule from 'undici/lib/core/errors.js';
import apiRequest from 'undici/lib/api/api-request.js';
import { getGlobalDispatcher } from 'undici/lib/global.js';

/**
 * The parts of undici the gateway uses, each from its own module. undici's index loads all it offers — fetch,
 * WebSocket, EventSource, mocks, caches, cookies — and its cookies module reads `globalThis.Headers` as it loads,
 * which makes Node load its own copy of undici as well: ~3.4 MB of heap (and start-up time) that no request uses.
 * The types are undici's own (`import type` from its index loads nothing).
 */
export const Agent = AgentClass as unknown as typeof UndiciAgent;
export type Agent = UndiciAgent;
export const undiciErrors = errorsModule as unknown as typeof UndiciErrors;

/**
 * undici's `request(url, options)`: an http(s) URL split into origin and path as its index does, GET unless told, on
 * `dispatcher` or the global one.
 */
export function request(
  url: string | URL,
  options: { dispatcher?: Dispatcher; method?: Dispatcher.HttpMethod } & Omit<Dispatcher.RequestOptions, 'origin' | 'path' | 'method'>,
): Promise<Dispatcher.ResponseData> {
  const target = typeof url === 'string' ? new URL(url) : url;
  if (target.protocol !== 'http:' && target.protocol !== 'https:') throw new undiciErrors.InvalidArgumentError(`not an http(s) URL: ${target.protocol}`);
  const { dispatcher = getGlobalDispatcher() as Dispatcher, method = 'GET', ...rest } = options;
  const path = target.search ? `${target.pathname}${target.search}` : target.pathname;
  return (apiRequest as (this: Dispatcher, opts: Dispatcher.RequestOptions) => Promise<Dispatcher.ResponseData>).call(dispatcher, { ...rest, method, origin: target.origin, path });
}
