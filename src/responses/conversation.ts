import { badRequest, tooLarge } from '../errors/index.js';
import type { StoredResponse, StoredResponses } from './response-store.js';

type Item = Record<string, unknown>;

/**
 * An earlier response's output as input for the next turn, in a shape every provider can take: messages and
 * function calls without their item ids (another provider never issued them), reasoning only where it carries
 * `encrypted_content` (an item without it refers to state at OpenAI that a `store: false` call cannot reach).
 * Calls of OpenAI's built-in tools stay out: the answer that used them is in the message that follows.
 */
export function replayableOutput(output: unknown): Item[] {
  if (!Array.isArray(output)) return [];
  const items: Item[] = [];
  for (const item of output as Item[]) {
    switch (item.type) {
      case 'message':
        items.push({ type: 'message', role: 'assistant', content: item.content });
        break;
      case 'function_call':
        items.push({ type: 'function_call', call_id: item.call_id, name: item.name, arguments: item.arguments });
        break;
      case 'reasoning':
        if (typeof item.encrypted_content === 'string' && item.encrypted_content) items.push({ type: 'reasoning', id: item.id, summary: item.summary ?? [], encrypted_content: item.encrypted_content });
        break;
    }
  }
  return items;
}

/**
 * `item_reference` input items resolved from the owner's stored responses (the Vercel AI SDK sends earlier steps'
 * items this way when `store` is on), each replaced by the item in a shape any provider takes. A reference to
 * nothing the caller stored here is refused (400 naming the item), never handed to an OpenAI provider to resolve:
 * under the gateway's shared key it would find any caller's items.
 */
export async function resolveItemReferences(store: StoredResponses, items: Item[], owner: string, offset = 0): Promise<Item[]> {
  if (!items.some((item) => item.type === 'item_reference')) return items;
  const resolved: Item[] = [];
  for (const [index, item] of items.entries()) {
    if (item.type !== 'item_reference') {
      resolved.push(item);
      continue;
    }
    const found = typeof item.id === 'string' ? await store.item(item.id, owner) : undefined;
    if (!found) throw badRequest(`Item with id '${String(item.id)}' not found. Items are kept per caller with the responses that hold them.`, `input[${index - offset}].id`);
    resolved.push(...(found.from === 'output' ? replayableOutput([found.item]) : replayableInput([found.item])));
  }
  return resolved;
}

/** Input items as sent upstream again: the client's own ids dropped (they name items of an earlier exchange). */
function replayableInput(items: Item[]): Item[] {
  return items.map(({ id: _id, ...rest }) => (rest.type === 'reasoning' ? { id: _id, ...rest } : rest));
}

export interface ChainLimits {
  /** Most responses walked back. */
  maxChain: number;
  /** Largest rebuilt conversation, in bytes of JSON (the node's body limit: it is sent on as one request). */
  maxBytes: number;
}

/**
 * The conversation before a response, rebuilt from the store: every turn of the `previous_response_id` chain, oldest
 * first — its input items, then its output. Instructions are not carried over (as OpenAI does: each request gives
 * its own). Throws 400 naming `previous_response_id` when a link is missing, expired or another principal's, and 413
 * when the conversation outgrew what this node takes as one request. An id the node does not hold is never passed on
 * to an OpenAI provider to resolve: under the gateway's shared key, OpenAI would continue any caller's response.
 */
export async function conversationBefore(store: StoredResponses, previousId: string, owner: string, limits: ChainLimits): Promise<Item[]> {
  const { maxChain, maxBytes } = limits;
  const chain: StoredResponse[] = [];
  let bytes = 0;
  let id: string | null = previousId;
  while (id !== null) {
    if (chain.length >= maxChain) throw badRequest(`The previous_response_id chain is longer than ${maxChain} responses; start a new conversation with the history in \`input\`.`, 'previous_response_id', 'previous_response_chain_too_long');
    const found: StoredResponse | undefined = await store.get(id, owner);
    if (!found) {
      const which = id === previousId ? `Previous response with id '${id}'` : `Response '${id}' (earlier in the chain of '${previousId}')`;
      throw badRequest(`${which} not found. Stored responses are kept per caller and expire with the retention period.`, 'previous_response_id', 'previous_response_not_found');
    }
    bytes += JSON.stringify(found.input).length + JSON.stringify(found.response.output ?? []).length;
    if (bytes > maxBytes) throw tooLarge(`The conversation of previous_response_id '${previousId}' is larger than this node takes in one request (${maxBytes} bytes); start a new conversation with a summary in \`input\`.`);
    chain.push(found);
    id = found.previous;
  }
  return chain.reverse().flatMap((turn) => [...replayableInput(turn.input), ...replayableOutput(turn.response.output)]);
}
