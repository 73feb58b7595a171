import { createParser } from 'eventsource-parser';
import { MAX_SSE_EVENT_BYTES } from '../formats/sse.js';
import { iterator } from '../pipeline/streaming.js';
import type { ResponseBody } from '../pipeline/types.js';

type ResponseObject = Record<string, unknown>;

/** Events whose `response` is the finished Response object worth keeping (a failed one is not continued). */
const FINISHED = new Set(['response.completed', 'response.incomplete']);

/** A whole (non-streamed) answer worth keeping: a response object that completed, or stopped at a limit. */
const isFinished = (response: ResponseObject | undefined) =>
  response !== undefined && typeof response.id === 'string' && (response.status === 'completed' || response.status === 'incomplete');

function terminalResponse(event: string | undefined, data: string): ResponseObject | undefined {
  // OpenAI names every event; only terminal ones (or unnamed ones, from a server that omits names) are parsed.
  if (event !== undefined && !FINISHED.has(event)) return undefined;
  try {
    const parsed = JSON.parse(data) as { type?: string; response?: ResponseObject };
    return parsed && FINISHED.has(parsed.type ?? '') && parsed.response ? parsed.response : undefined;
  } catch {
    return undefined;
  }
}

/**
 * Hands the finished Response object of an answer to `keep` — a JSON answer before it is sent, a stream's terminal
 * event before that event goes out — so a client that continues from it at once (`previous_response_id`) finds it
 * stored. `keep` must not throw (it logs its own failures). Returns the body to send in place of `body`.
 */
export async function captureResponse(body: ResponseBody, keep: (response: ResponseObject) => Promise<void>): Promise<ResponseBody> {
  if (body.kind === 'json') {
    if (isFinished(body.value as ResponseObject)) await keep(body.value as ResponseObject);
    return body;
  }
  if (body.kind === 'bytes') {
    let parsed: ResponseObject | undefined;
    try {
      parsed = JSON.parse(Buffer.from(body.value).toString('utf8')) as ResponseObject;
    } catch {
      parsed = undefined;
    }
    if (parsed && isFinished(parsed)) await keep(parsed);
    return body;
  }
  const source = body.events;
  const decoder = new TextDecoder();
  let finished: ResponseObject | undefined;
  let kept = false;
  let overflow = false;
  const parser = createParser({
    onEvent: (message) => void (finished ??= terminalResponse(message.event, message.data)),
    onError: () => void (overflow = true),
    maxBufferSize: MAX_SSE_EVENT_BYTES,
  });
  const events = iterator<string | Uint8Array>({
    next: async () => {
      const result = await source.next();
      if (result.done || kept || overflow) return result;
      parser.feed(typeof result.value === 'string' ? result.value : decoder.decode(result.value, { stream: true }));
      if (finished) {
        kept = true;
        await keep(finished);
      }
      return result;
    },
    return: async (value) => {
      await source.return(value);
    },
  });
  return { kind: 'sse', events };
}
