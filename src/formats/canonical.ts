/**
 * The canonical (format-neutral) shape of a chat request, response and stream. Every translation goes
 * client format -> canonical -> provider format and back; same-format traffic never touches these types
 * (it is passed through, see router/).
 *
 * The shape is the intersection that OpenAI Chat Completions, Anthropic Messages and Gemini generateContent can
 * all express, plus the few fields that only some can (kept optional so translators can map, drop with a warning,
 * or refuse them).
 */

// Defined in core/ (errors, providers and the pipeline name formats without depending on the translators).
export { WIRE_FORMATS, type WireFormat } from '../core/index.js';

export type ImageSource =
  | { kind: 'base64'; mediaType: string; data: string }
  | { kind: 'url'; url: string };

export interface TextPart { type: 'text'; text: string }
export interface ImagePart { type: 'image'; source: ImageSource; detail?: 'auto' | 'low' | 'high' }
/**
 * A document the user attached (Responses `input_file`, OpenAI chat `file`): a PDF or text file, inline or by URL.
 * Each target takes what it can (Anthropic document blocks, Gemini inline data, OpenAI file parts) and refuses the
 * rest by name; files stored at a provider (`file_id`) never become one.
 */
export interface FilePart { type: 'file'; source: ImageSource; filename?: string }
export interface ToolCallPart {
  type: 'tool_call';
  id: string;
  name: string;
  /** Arguments as a JSON text (what OpenAI sends); translators parse it where a provider wants an object. */
  arguments: string;
}
export interface ToolResultPart {
  type: 'tool_result';
  toolCallId: string;
  /** Tool name when the source format knows it (Gemini needs it; Anthropic/OpenAI do not send it). */
  name?: string;
  content: Array<TextPart | ImagePart>;
  isError?: boolean;
}
/** Model reasoning that a provider returned (Anthropic thinking); dropped when the target cannot carry it. */
export interface ReasoningPart { type: 'reasoning'; text: string; signature?: string }

export type ContentPart = TextPart | ImagePart | FilePart | ToolCallPart | ToolResultPart | ReasoningPart;

export interface CanonicalMessage {
  /** Tool results travel as parts of a `user` message (Anthropic's model); OpenAI `tool` messages map to that. */
  role: 'user' | 'assistant';
  content: ContentPart[];
}

export interface ToolDefinition {
  name: string;
  description?: string;
  /** JSON Schema of the arguments object. */
  parameters: Record<string, unknown>;
}

export type ToolChoice = { type: 'auto' } | { type: 'none' } | { type: 'required' } | { type: 'tool'; name: string };

export type ResponseFormat =
  | { type: 'text' }
  | { type: 'json_object' }
  | { type: 'json_schema'; name: string; schema: Record<string, unknown>; strict?: boolean };

/** How hard a reasoning model should think (OpenAI `reasoning_effort` / Responses `reasoning.effort`). */
export type ReasoningEffort = 'none' | 'minimal' | 'low' | 'medium' | 'high';

/**
 * A request for model reasoning, in whichever terms the client gave it: an effort level (OpenAI) or a token budget
 * (Anthropic `thinking.budget_tokens`, Gemini `thinkingConfig.thinkingBudget`). Translators map one to the other with
 * the table in formats/ (and the README); `enabled: false` asks for no reasoning at all.
 */
export interface ReasoningRequest {
  effort?: ReasoningEffort;
  budgetTokens?: number;
  enabled?: boolean;
  /** Whether the client wants the reasoning text (summaries) back where its format has a place for it. */
  includeText?: boolean;
}

export interface CanonicalRequest {
  model: string;
  /** System instructions, concatenated in order (OpenAI system/developer messages, Anthropic `system`). */
  system?: string;
  messages: CanonicalMessage[];
  tools?: ToolDefinition[];
  toolChoice?: ToolChoice;
  parallelToolCalls?: boolean;
  maxTokens?: number;
  temperature?: number;
  topP?: number;
  topK?: number;
  stop?: string[];
  seed?: number;
  presencePenalty?: number;
  frequencyPenalty?: number;
  /** Number of choices; only 1 is translatable to Anthropic. */
  n?: number;
  responseFormat?: ResponseFormat;
  reasoning?: ReasoningRequest;
  /** Free-form key/value metadata the client attached (OpenAI `metadata`); carried where the target has a place. */
  metadata?: Record<string, string>;
  /** End-user id for abuse tracking (OpenAI `user`, Anthropic `metadata.user_id`). */
  user?: string;
  stream: boolean;
  /** Names of client parameters a translator had to drop; surfaced as `x-meshgate-warnings`. */
  warnings?: string[];
}

export type StopReason = 'stop' | 'length' | 'tool_calls' | 'content_filter' | 'error';

/**
 * Token usage. `inputTokens` is ALL input tokens, cached ones included (OpenAI `prompt_tokens` semantics).
 * Anthropic reports cache reads/writes outside `input_tokens`, so its decoder adds them in and its encoder subtracts
 * them again; Gemini's `promptTokenCount` already includes `cachedContentTokenCount`.
 */
export interface Usage {
  inputTokens: number;
  outputTokens: number;
  /** Input tokens served from a prompt cache (OpenAI cached_tokens, Anthropic cache_read_input_tokens). */
  cachedInputTokens?: number;
  /** Input tokens written to a prompt cache (Anthropic cache_creation_input_tokens). */
  cacheWriteInputTokens?: number;
  /** Reasoning tokens, a part of outputTokens where the provider reports them. */
  reasoningTokens?: number;
}

export interface CanonicalResponse {
  id: string;
  model: string;
  /** Text, tool_call and reasoning parts in the order the model produced them. */
  content: Array<TextPart | ToolCallPart | ReasoningPart>;
  stopReason: StopReason;
  /** The provider's own stop string when it stopped on a stop sequence (Anthropic `stop_sequence`). */
  stopSequence?: string;
  usage: Usage;
  created?: number;
}

/**
 * Canonical stream events. Decoders of provider streams produce them; encoders of client streams consume them.
 * Tool calls are indexed by `index` (their position among the response's tool calls, from 0).
 */
export type StreamEvent =
  | { type: 'start'; id: string; model: string; created?: number; usage?: Partial<Usage> }
  | { type: 'text_delta'; text: string }
  | { type: 'reasoning_delta'; text: string; signature?: string }
  | { type: 'tool_call_start'; index: number; id: string; name: string }
  | { type: 'tool_call_delta'; index: number; argumentsDelta: string }
  | { type: 'tool_call_end'; index: number }
  | { type: 'finish'; stopReason: StopReason; stopSequence?: string; usage: Usage };

export interface CanonicalEmbeddingRequest {
  model: string;
  input: string[];
  dimensions?: number;
  encodingFormat?: 'float' | 'base64';
  user?: string;
}

export interface CanonicalEmbeddingResponse {
  model: string;
  /** How the client wants vectors encoded (OpenAI `encoding_format`), carried over from its request. */
  encodingFormat?: 'float' | 'base64';
  embeddings: number[][];
  usage: { inputTokens: number };
}

export const emptyUsage = (): Usage => ({ inputTokens: 0, outputTokens: 0 });
