import { PEER_TARGET } from './config.js';
import type { GroupView, RequestNeeds, RoutingEnvironment, Target } from './types.js';

export interface CandidateSet {
  /** The name asked for. */
  requested: string;
  /** The name routed after aliases (the same when there is no alias). */
  name: string;
  group?: GroupView;
  candidates: Target[];
  /** Group targets that cannot be candidates (unknown provider, operation not served), with why. */
  unusable: Array<{ target: Target; reason: string }>;
}

const peerTarget = (model: string, weight: number, source: Target['source']): Target => ({ key: `${PEER_TARGET}/${model}`, provider: PEER_TARGET, model, peer: true, weight, source });

/**
 * Layer 1, candidates: every target for the requested name. An alias is followed; a group gives its targets in their
 * config order; a plain name gives the providers serving it in config order, then the mesh when it may be asked; a name
 * pinned to a provider (`provider-id/model`) gives that provider alone.
 */
export function candidatesFor(requested: string, operation: RequestNeeds['operation'], env: RoutingEnvironment): CandidateSet {
  const name = env.aliasOf(requested) ?? requested;
  const group = env.group(name);
  const unusable: CandidateSet['unusable'] = [];
  const candidates: Target[] = [];
  if (group) {
    for (const t of group.targets) {
      if (t.provider === PEER_TARGET) {
        const target = peerTarget(t.model, t.weight, 'group');
        if (env.peersAllowed) candidates.push(target);
        else unusable.push({ target, reason: 'mesh forwarding is off, or the request has no hops left' });
        continue;
      }
      const target: Target = { key: `${t.provider}/${t.model}`, provider: t.provider, model: t.model, peer: false, weight: t.weight, source: 'group' };
      if (candidates.some((c) => c.key === target.key)) continue;
      if (env.providerServes(t.provider, operation)) candidates.push(target);
      else unusable.push({ target, reason: `provider "${t.provider}" is not configured or has no ${operation} endpoint` });
    }
    return { requested, name, group, candidates, unusable };
  }
  let pinned = false;
  for (const { provider, model } of env.providersFor(name, operation)) {
    pinned ||= model !== name; // only a pin names the model differently at its provider
    candidates.push({ key: `${provider}/${model}`, provider, model, peer: false, weight: 1, source: 'catalog' });
  }
  // A name pinned to one of this node's providers means that provider: a peer's providers are not it.
  if (env.peersAllowed && !pinned) candidates.push(peerTarget(name, 1, 'mesh'));
  return { requested, name, candidates, unusable };
}
