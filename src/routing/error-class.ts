import { UpstreamError } from '../errors/index.js';

/** Failures that another target can answer although they are the request's 4xx at the one that refused. */
export type FallbackClass = 'context_window' | 'content_policy';

// What providers say (OpenAI `context_length_exceeded` / "maximum context length", Anthropic "prompt is too long",
// Gemini "exceeds the maximum number of tokens", vLLM/OpenRouter "context window" / "too many tokens").
const CONTEXT = /context_length_exceeded|maximum context length|context (?:window|length)|prompt is too long|exceeds the maximum number of tokens|input token count.*exceeds|too many (?:input )?tokens/i;
// OpenAI `content_policy_violation`, Azure's "content management policy" / `content_filter`, Anthropic and Gemini
// refusals for safety.
const POLICY = /content_policy_violation|content[ _]policy|content management policy|content_filter|responsible ?ai|safety (?:system|settings|filter)|blocked for safety|usage polic/i;

const bodyText = (body: unknown) => {
  try {
    return body === undefined ? '' : JSON.stringify(body);
  } catch {
    return '';
  }
};

/** The fallback class of a failure, if any: an upstream 4xx (400, 403, 413, 422) whose text says which. */
export function fallbackClassOf(err: unknown): FallbackClass | undefined {
  if (!(err instanceof UpstreamError) || err.retryable) return undefined;
  const status = err.upstreamStatus ?? 0;
  if (![400, 403, 413, 422].includes(status)) return undefined;
  const text = `${err.message} ${bodyText(err.upstreamBody)}`;
  if (CONTEXT.test(text)) return 'context_window';
  if (POLICY.test(text)) return 'content_policy';
  return undefined;
}
