import { z } from 'zod';
import { badRequest } from '../../errors/index.js';
import type { CanonicalMessage, CanonicalRequest, ContentPart, ImagePart, ResponseFormat, ToolChoice } from '../canonical.js';
import type { RequestContext, TranslatedRequest } from '../codec.js';
import { zodIssueToBadRequest } from '../validation.js';
import { cleanSchemaForGemini } from './schema-cleaning.js';

/** Gemini generateContent request (https://ai.google.dev/api/generate-content), v1beta REST, lowerCamelCase. */
const partSchema = z
  .object({
    text: z.string().optional(),
    inlineData: z.object({ mimeType: z.string(), data: z.string() }).loose().optional(),
    fileData: z.object({ mimeType: z.string().optional(), fileUri: z.string() }).loose().optional(),
    functionCall: z.object({ name: z.string(), args: z.record(z.string(), z.unknown()).optional(), id: z.string().optional() }).loose().optional(),
    functionResponse: z.object({ name: z.string(), response: z.unknown(), id: z.string().optional() }).loose().optional(),
    thought: z.boolean().optional(),
    thoughtSignature: z.string().optional(),
  })
  .loose();
const contentSchema = z.object({ role: z.enum(['user', 'model']).optional(), parts: z.array(partSchema) }).loose();

export const geminiRequestSchema = z
  .object({
    contents: z.array(contentSchema).min(1),
    systemInstruction: z.object({ parts: z.array(partSchema) }).loose().optional(),
    tools: z.array(z.object({ functionDeclarations: z.array(z.object({ name: z.string(), description: z.string().optional(), parameters: z.record(z.string(), z.unknown()).optional(), parametersJsonSchema: z.record(z.string(), z.unknown()).optional() }).loose()).optional() }).loose()).optional(),
    toolConfig: z.object({ functionCallingConfig: z.object({ mode: z.enum(['AUTO', 'ANY', 'NONE', 'VALIDATED', 'MODE_UNSPECIFIED']).optional(), allowedFunctionNames: z.array(z.string()).optional() }).loose().optional() }).loose().optional(),
    generationConfig: z
      .object({
        maxOutputTokens: z.number().int().positive().optional(),
        temperature: z.number().optional(),
        topP: z.number().optional(),
        topK: z.number().optional(),
        stopSequences: z.array(z.string()).optional(),
        candidateCount: z.number().int().positive().optional(),
        seed: z.number().int().optional(),
        presencePenalty: z.number().optional(),
        frequencyPenalty: z.number().optional(),
        responseMimeType: z.string().optional(),
        responseSchema: z.record(z.string(), z.unknown()).optional(),
        responseJsonSchema: z.record(z.string(), z.unknown()).optional(),
      })
      .loose()
      .optional(),
  })
  .loose();

type GeminiPart = z.infer<typeof partSchema>;

/** Gemini-only parameters: dropped (and named) when translating to another format. */
const GEMINI_ONLY = ['safetySettings', 'cachedContent', 'labels'];
const GEMINI_ONLY_GENERATION = ['thinkingConfig', 'responseModalities', 'speechConfig', 'mediaResolution', 'responseLogprobs', 'logprobs'];

const jsonText = (value: unknown) => (typeof value === 'string' ? value : JSON.stringify(value ?? {}));

export function geminiRequestToCanonical(body: unknown, ctx: RequestContext = {}): CanonicalRequest {
  const parsed = geminiRequestSchema.safeParse(body);
  if (!parsed.success) throw zodIssueToBadRequest(parsed.error);
  const request = parsed.data;
  for (const [i, tool] of (request.tools ?? []).entries()) {
    const other = Object.keys(tool).find((key) => key !== 'functionDeclarations');
    if (other) throw badRequest(`Gemini tool '${other}' is not supported when translating to another provider format.`, `tools[${i}].${other}`);
  }
  // Gemini function calls often carry no id; derive deterministic ones and pair responses by name, in order.
  const pendingIds = new Map<string, string[]>();
  const messages: CanonicalMessage[] = request.contents.map((content, m) => ({
    role: content.role === 'model' ? 'assistant' : 'user',
    content: content.parts.flatMap((part, p): ContentPart[] => {
      if (part.functionCall) {
        const id = part.functionCall.id ?? `call_${m}_${p}`;
        pendingIds.set(part.functionCall.name, [...(pendingIds.get(part.functionCall.name) ?? []), id]);
        return [{ type: 'tool_call', id, name: part.functionCall.name, arguments: JSON.stringify(part.functionCall.args ?? {}) }];
      }
      if (part.functionResponse) {
        const queue = pendingIds.get(part.functionResponse.name) ?? [];
        const id = part.functionResponse.id ?? queue.shift() ?? `call_${part.functionResponse.name}`;
        return [{ type: 'tool_result', toolCallId: id, name: part.functionResponse.name, content: [{ type: 'text', text: jsonText(part.functionResponse.response) }] }];
      }
      if (part.inlineData) return [{ type: 'image', source: { kind: 'base64', mediaType: part.inlineData.mimeType, data: part.inlineData.data } }];
      if (part.fileData) return [{ type: 'image', source: { kind: 'url', url: part.fileData.fileUri } }];
      if (part.text !== undefined) return part.thought ? [{ type: 'reasoning', text: part.text }] : [{ type: 'text', text: part.text }];
      return [];
    }),
  }));
  const system = request.systemInstruction?.parts.map((p) => p.text ?? '').join('\n\n');
  const tools = request.tools?.flatMap((t) => t.functionDeclarations ?? []).map((f) => ({ name: f.name, ...(f.description ? { description: f.description } : {}), parameters: f.parametersJsonSchema ?? f.parameters ?? { type: 'object', properties: {} } }));
  const config = request.generationConfig;
  const calling = request.toolConfig?.functionCallingConfig;
  let toolChoice: ToolChoice | undefined;
  if (calling?.mode === 'NONE') toolChoice = { type: 'none' };
  else if (calling?.mode === 'ANY') toolChoice = calling.allowedFunctionNames?.length === 1 ? { type: 'tool', name: calling.allowedFunctionNames[0]! } : { type: 'required' };
  else if (calling?.mode === 'AUTO') toolChoice = { type: 'auto' };
  let responseFormat: ResponseFormat | undefined;
  if (config?.responseMimeType === 'application/json') {
    const schema = config.responseJsonSchema ?? config.responseSchema;
    responseFormat = schema ? { type: 'json_schema', name: 'response', schema } : { type: 'json_object' };
  }
  const keys = Object.keys(body as object);
  const generationKeys = Object.keys(config ?? {});
  return {
    model: ctx.model ?? '',
    ...(system ? { system } : {}),
    messages,
    ...(tools?.length ? { tools } : {}),
    ...(toolChoice ? { toolChoice } : {}),
    ...(config?.maxOutputTokens ? { maxTokens: config.maxOutputTokens } : {}),
    ...(config?.temperature !== undefined ? { temperature: config.temperature } : {}),
    ...(config?.topP !== undefined ? { topP: config.topP } : {}),
    ...(config?.topK !== undefined ? { topK: config.topK } : {}),
    ...(config?.stopSequences?.length ? { stop: config.stopSequences } : {}),
    ...(config?.candidateCount ? { n: config.candidateCount } : {}),
    ...(config?.seed !== undefined ? { seed: config.seed } : {}),
    ...(config?.presencePenalty !== undefined ? { presencePenalty: config.presencePenalty } : {}),
    ...(config?.frequencyPenalty !== undefined ? { frequencyPenalty: config.frequencyPenalty } : {}),
    ...(responseFormat ? { responseFormat } : {}),
    stream: ctx.stream ?? false,
    warnings: [...GEMINI_ONLY.filter((k) => keys.includes(k)), ...GEMINI_ONLY_GENERATION.filter((k) => generationKeys.includes(k))],
  };
}

const MIME_BY_EXTENSION: Record<string, string> = { png: 'image/png', jpg: 'image/jpeg', jpeg: 'image/jpeg', gif: 'image/gif', webp: 'image/webp', heic: 'image/heic', heif: 'image/heif' };

function imagePart(part: ImagePart): GeminiPart {
  if (part.source.kind === 'base64') return { inlineData: { mimeType: part.source.mediaType, data: part.source.data } };
  const extension = /\.([a-z0-9]+)(?:[?#]|$)/i.exec(part.source.url)?.[1]?.toLowerCase() ?? '';
  return { fileData: { mimeType: MIME_BY_EXTENSION[extension] ?? 'image/jpeg', fileUri: part.source.url } };
}

/** A tool result as Gemini's functionResponse.response: the JSON object itself, or `{ result: text }`. */
function responseObject(text: string): Record<string, unknown> {
  try {
    const value = JSON.parse(text) as unknown;
    if (value !== null && typeof value === 'object' && !Array.isArray(value)) return value as Record<string, unknown>;
  } catch {
    // plain text
  }
  return { result: text };
}

export function canonicalToGeminiRequest(req: CanonicalRequest): TranslatedRequest {
  const warnings: string[] = [];
  const nameOfCall = new Map<string, string>();
  const contents: Array<{ role: string; parts: GeminiPart[] }> = [];
  for (const message of req.messages) {
    const parts: GeminiPart[] = [];
    for (const part of message.content) {
      switch (part.type) {
        case 'text':
          if (part.text !== '') parts.push({ text: part.text });
          break;
        case 'image':
          parts.push(imagePart(part));
          break;
        case 'tool_call': {
          nameOfCall.set(part.id, part.name);
          let args: Record<string, unknown>;
          try {
            args = part.arguments.trim() === '' ? {} : (JSON.parse(part.arguments) as Record<string, unknown>);
          } catch {
            throw badRequest(`Tool call ${part.id} has arguments that are not valid JSON; Gemini needs a JSON object.`, 'messages');
          }
          parts.push({ functionCall: { name: part.name, args } });
          break;
        }
        case 'tool_result': {
          const text = part.content.map((p) => (p.type === 'text' ? p.text : '')).join('');
          const name = part.name ?? nameOfCall.get(part.toolCallId);
          if (!name) throw badRequest(`Tool result for ${part.toolCallId} has no matching tool call; Gemini needs the function name.`, 'messages');
          parts.push({ functionResponse: { name, response: responseObject(text) } });
          break;
        }
        case 'reasoning':
          break;
      }
    }
    const role = message.role === 'assistant' ? 'model' : 'user';
    const last = contents[contents.length - 1];
    if (last && last.role === role) last.parts.push(...parts);
    else if (parts.length) contents.push({ role, parts });
  }
  const body: Record<string, unknown> = { contents };
  if (req.system) body.systemInstruction = { parts: [{ text: req.system }] };
  if (req.tools?.length) body.tools = [{ functionDeclarations: req.tools.map((t) => ({ name: t.name, ...(t.description ? { description: t.description } : {}), parameters: cleanSchemaForGemini(t.parameters) })) }];
  if (req.toolChoice) {
    const mode = req.toolChoice.type === 'none' ? 'NONE' : req.toolChoice.type === 'auto' ? 'AUTO' : 'ANY';
    body.toolConfig = { functionCallingConfig: { mode, ...(req.toolChoice.type === 'tool' ? { allowedFunctionNames: [req.toolChoice.name] } : {}) } };
  }
  const generationConfig: Record<string, unknown> = {};
  if (req.maxTokens !== undefined) generationConfig.maxOutputTokens = req.maxTokens;
  if (req.temperature !== undefined) generationConfig.temperature = req.temperature;
  if (req.topP !== undefined) generationConfig.topP = req.topP;
  if (req.topK !== undefined) generationConfig.topK = req.topK;
  if (req.stop?.length) generationConfig.stopSequences = req.stop;
  if (req.n !== undefined) generationConfig.candidateCount = req.n;
  if (req.seed !== undefined) generationConfig.seed = req.seed;
  if (req.presencePenalty !== undefined) generationConfig.presencePenalty = req.presencePenalty;
  if (req.frequencyPenalty !== undefined) generationConfig.frequencyPenalty = req.frequencyPenalty;
  if (req.responseFormat?.type === 'json_object') generationConfig.responseMimeType = 'application/json';
  if (req.responseFormat?.type === 'json_schema') {
    generationConfig.responseMimeType = 'application/json';
    generationConfig.responseJsonSchema = req.responseFormat.schema;
  }
  if (Object.keys(generationConfig).length) body.generationConfig = generationConfig;
  if (req.user) warnings.push('user');
  if (req.parallelToolCalls === false) warnings.push('parallel_tool_calls');
  return { body, warnings };
}
