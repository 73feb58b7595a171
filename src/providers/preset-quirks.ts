import type { ProviderPreset } from '../core-config/index.js';
import { refuseSeveralChoices } from '../formats/index.js';
import type { Operation } from './types.js';

/**
 * A chat body as a preset's server takes it: the output limit under the name it knows, fields it refuses left out,
 * fields it names otherwise renamed, and no `stream_options` where streams take none. Applied to the body as it is
 * about to be sent, so a client's own body (passed through) and a translated one are treated alike.
 */
/**
 * The fields of a chat body that `applyPresetQuirks` leaves out because the preset's server refuses them, named for
 * x-meshgate-warnings (a client that asked for `logprobs` learns it got none, rather than finding out by absence).
 * `stream_options` is not among them: the gateway adds it itself to count usage, and counts it without it too.
 */
export function presetDroppedFields(preset: ProviderPreset, op: Operation, body: Record<string, unknown>): string[] {
  if (op !== 'chat') return [];
  const messages = Array.isArray(body.messages) ? (body.messages as unknown[]) : [];
  const inMessages = (preset.unsupportedMessageFields ?? []).filter((field) => messages.some((m) => isObject(m) && m[field] !== undefined));
  return [
    ...preset.unsupported.filter((field) => field !== 'stream_options' && body[field] !== undefined),
    ...inMessages.map((field) => `messages[].${field}`),
  ].map((field) => `${field} (${preset.title} does not take it)`);
}

const isObject = (value: unknown): value is Record<string, unknown> => value !== null && typeof value === 'object' && !Array.isArray(value);

export function applyPresetQuirks(preset: ProviderPreset, op: Operation, body: Record<string, unknown>): Record<string, unknown> {
  if (op !== 'chat') return body;
  // Dropping `n` would answer one choice where several were asked for: refused like every other one-choice target
  // (formats/several-choices.ts), so failover can still try a target that serves it.
  if (preset.unsupported.includes('n')) refuseSeveralChoices(body.n, `${preset.title} (does not take n)`);
  const out: Record<string, unknown> = { ...body };
  const other = preset.maxTokensField === 'max_tokens' ? 'max_completion_tokens' : 'max_tokens';
  if (out[other] !== undefined) {
    out[preset.maxTokensField] ??= out[other];
    delete out[other];
  }
  for (const field of preset.unsupported) delete out[field];
  const messageFields = preset.unsupportedMessageFields ?? [];
  if (messageFields.length && Array.isArray(out.messages)) {
    out.messages = (out.messages as unknown[]).map((m) => {
      if (!isObject(m) || !messageFields.some((field) => m[field] !== undefined)) return m;
      const kept = { ...m };
      for (const field of messageFields) delete kept[field];
      return kept;
    });
  }
  if (!preset.streamOptions) delete out.stream_options;
  for (const [from, to] of Object.entries(preset.renamed ?? {})) {
    if (out[from] === undefined) continue;
    out[to] ??= out[from];
    delete out[from];
  }
  return out;
}
