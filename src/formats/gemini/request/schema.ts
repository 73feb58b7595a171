import { z } from 'zod';

/**
 * A Gemini generateContent request body, v1beta REST with lowerCamelCase JSON names
 * (https://ai.google.dev/api/generate-content#request-body). Model and streaming are in the URL, not here.
 * Partial on purpose: every object is `.loose()`, so a field meshgate does not translate still validates (and is named
 * in `warnings`) instead of failing the request, and a new Gemini field never breaks pass-through.
 */

const jsonObject = z.record(z.string(), z.unknown());

/** Blob: https://ai.google.dev/api/caching#Blob */
const blobSchema = z.object({ mimeType: z.string().min(1), data: z.string() }).loose();

/** Part: https://ai.google.dev/api/caching#Part — one data field per part (text, inlineData, functionCall, ...). */
export const geminiPartSchema = z
  .object({
    text: z.string().optional(),
    thought: z.boolean().optional(),
    thoughtSignature: z.string().optional(),
    inlineData: blobSchema.optional(),
    fileData: z.object({ mimeType: z.string().optional(), fileUri: z.string().min(1) }).loose().optional(),
    functionCall: z.object({ id: z.string().optional(), name: z.string().min(1), args: jsonObject.optional() }).loose().optional(),
    functionResponse: z
      .object({
        id: z.string().optional(),
        name: z.string().min(1),
        response: jsonObject,
        // Multimodal function responses (FunctionResponsePart): images a tool returned.
        parts: z.array(z.object({ inlineData: blobSchema.optional() }).loose()).optional(),
      })
      .loose()
      .optional(),
  })
  .loose();

/** Content: https://ai.google.dev/api/caching#Content — the role may be left out in single-turn requests. */
const contentSchema = z.object({ role: z.enum(['user', 'model']).optional(), parts: z.array(geminiPartSchema).min(1) }).loose();

/** FunctionDeclaration: https://ai.google.dev/api/caching#FunctionDeclaration */
const functionDeclarationSchema = z
  .object({
    name: z.string().min(1),
    description: z.string().optional(),
    parameters: jsonObject.optional(),
    parametersJsonSchema: jsonObject.optional(),
  })
  .loose();

export const geminiGenerationConfigSchema = z
  .object({
    stopSequences: z.array(z.string()).optional(),
    responseMimeType: z.string().optional(),
    responseSchema: jsonObject.optional(),
    responseJsonSchema: jsonObject.optional(),
    candidateCount: z.number().int().positive().optional(),
    maxOutputTokens: z.number().int().positive().optional(),
    temperature: z.number().min(0).max(2).optional(),
    topP: z.number().min(0).max(1).optional(),
    topK: z.number().int().positive().optional(),
    seed: z.number().int().optional(),
    presencePenalty: z.number().optional(),
    frequencyPenalty: z.number().optional(),
    thinkingConfig: z
      .object({ thinkingBudget: z.number().int().min(-1).optional(), thinkingLevel: z.string().optional(), includeThoughts: z.boolean().optional() })
      .loose()
      .optional(),
  })
  .loose();

export const geminiToolConfigSchema = z
  .object({
    functionCallingConfig: z
      .object({
        mode: z.enum(['MODE_UNSPECIFIED', 'AUTO', 'ANY', 'NONE', 'VALIDATED']).optional(),
        allowedFunctionNames: z.array(z.string()).optional(),
      })
      .loose()
      .optional(),
  })
  .loose();

export const geminiRequestSchema = z
  .object({
    contents: z.array(contentSchema).min(1),
    systemInstruction: z.object({ parts: z.array(z.object({ text: z.string() }).loose()) }).loose().optional(),
    // Tool: https://ai.google.dev/api/caching#Tool — besides functionDeclarations it holds Google's own tools
    // (googleSearch, codeExecution, urlContext, ...), which only Gemini can run.
    tools: z.array(z.object({ functionDeclarations: z.array(functionDeclarationSchema).optional() }).loose()).optional(),
    toolConfig: geminiToolConfigSchema.optional(),
    generationConfig: geminiGenerationConfigSchema.optional(),
  })
  .loose();

export type GeminiRequest = z.infer<typeof geminiRequestSchema>;
export type GeminiPart = z.infer<typeof geminiPartSchema>;
export type GeminiGenerationConfig = z.infer<typeof geminiGenerationConfigSchema>;
export type GeminiToolConfig = z.infer<typeof geminiToolConfigSchema>;
