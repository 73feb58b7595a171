import type { WireFormat } from '../formats/canonical.js';

/** Called for each text the gateway would send on; returns the (possibly redacted) text. */
export type TextVisitor = (text: string, location: string) => string;

type Json = Record<string, unknown>;
const isObject = (v: unknown): v is Json => v !== null && typeof v === 'object' && !Array.isArray(v);

/** Every string value inside a JSON value (tool arguments, schemas, tool results), keys left alone. */
function walkValue(value: unknown, location: string, visit: TextVisitor): unknown {
  if (typeof value === 'string') return visit(value, location);
  if (Array.isArray(value)) return value.map((item, i) => walkValue(item, `${location}[${i}]`, visit));
  if (isObject(value)) return Object.fromEntries(Object.entries(value).map(([k, v]) => [k, walkValue(v, `${location}.${k}`, visit)]));
  return value;
}

/** A JSON text (OpenAI tool-call arguments): walked as JSON so redaction keeps it valid; as plain text if it is not JSON. */
function walkJsonText(text: string, location: string, visit: TextVisitor): string {
  try {
    return JSON.stringify(walkValue(JSON.parse(text), location, visit));
  } catch {
    return visit(text, location);
  }
}

function mapArray(value: unknown, fn: (item: Json, i: number) => Json): unknown {
  return Array.isArray(value) ? value.map((item, i) => (isObject(item) ? fn(item, i) : item)) : value;
}

/** OpenAI content: a string or parts; only text parts carry text (images are not scanned). */
function openaiContent(content: unknown, where: string, visit: TextVisitor): unknown {
  if (typeof content === 'string') return visit(content, where);
  return mapArray(content, (part, i) => (typeof part.text === 'string' ? { ...part, text: visit(part.text, `${where}[${i}].text`) } : part));
}

function walkOpenAI(body: Json, visit: TextVisitor): Json {
  return {
    ...body,
    messages: mapArray(body.messages, (m, i) => ({
      ...m,
      ...(m.content !== undefined ? { content: openaiContent(m.content, `messages[${i}].content`, visit) } : {}),
      ...(m.tool_calls !== undefined ? {
        tool_calls: mapArray(m.tool_calls, (call, j) => {
          const fn = call.function as Json | undefined;
          return fn && typeof fn.arguments === 'string' ? { ...call, function: { ...fn, arguments: walkJsonText(fn.arguments, `messages[${i}].tool_calls[${j}].function.arguments`, visit) } } : call;
        }),
      } : {}),
    })),
    ...(body.tools !== undefined ? {
      tools: mapArray(body.tools, (tool, i) => {
        const fn = tool.function as Json | undefined;
        return fn ? { ...tool, function: { ...fn, ...(typeof fn.description === 'string' ? { description: visit(fn.description, `tools[${i}].function.description`) } : {}), ...(fn.parameters !== undefined ? { parameters: walkValue(fn.parameters, `tools[${i}].function.parameters`, visit) } : {}) } } : tool;
      }),
    } : {}),
  };
}

function anthropicBlocks(content: unknown, where: string, visit: TextVisitor): unknown {
  if (typeof content === 'string') return visit(content, where);
  return mapArray(content, (block, i) => {
    const at = `${where}[${i}]`;
    if (block.type === 'text' && typeof block.text === 'string') return { ...block, text: visit(block.text, `${at}.text`) };
    if (block.type === 'tool_use') return { ...block, input: walkValue(block.input, `${at}.input`, visit) };
    if (block.type === 'tool_result') return { ...block, content: anthropicBlocks(block.content, `${at}.content`, visit) };
    return block;
  });
}

function walkAnthropic(body: Json, visit: TextVisitor): Json {
  return {
    ...body,
    ...(body.system !== undefined ? { system: anthropicBlocks(body.system, 'system', visit) } : {}),
    messages: mapArray(body.messages, (m, i) => ({ ...m, content: anthropicBlocks(m.content, `messages[${i}].content`, visit) })),
    ...(body.tools !== undefined ? {
      tools: mapArray(body.tools, (tool, i) => ({
        ...tool,
        ...(typeof tool.description === 'string' ? { description: visit(tool.description, `tools[${i}].description`) } : {}),
        ...(tool.input_schema !== undefined ? { input_schema: walkValue(tool.input_schema, `tools[${i}].input_schema`, visit) } : {}),
      })),
    } : {}),
  };
}

function geminiParts(parts: unknown, where: string, visit: TextVisitor): unknown {
  return mapArray(parts, (part, i) => {
    const at = `${where}[${i}]`;
    if (typeof part.text === 'string') return { ...part, text: visit(part.text, `${at}.text`) };
    if (isObject(part.functionCall)) return { ...part, functionCall: { ...part.functionCall, args: walkValue(part.functionCall.args, `${at}.functionCall.args`, visit) } };
    if (isObject(part.functionResponse)) return { ...part, functionResponse: { ...part.functionResponse, response: walkValue(part.functionResponse.response, `${at}.functionResponse.response`, visit) } };
    return part;
  });
}

function walkGemini(body: Json, visit: TextVisitor): Json {
  const system = body.systemInstruction;
  return {
    ...body,
    ...(isObject(system) ? { systemInstruction: { ...system, parts: geminiParts(system.parts, 'systemInstruction.parts', visit) } } : {}),
    ...(body.contents !== undefined ? { contents: mapArray(body.contents, (c, i) => ({ ...c, parts: geminiParts(c.parts, `contents[${i}].parts`, visit) })) } : {}),
    ...(body.requests !== undefined ? { requests: mapArray(body.requests, (r, i) => (isObject(r.content) ? { ...r, content: { ...r.content, parts: geminiParts(r.content.parts, `requests[${i}].content.parts`, visit) } } : r)) } : {}),
    ...(body.tools !== undefined ? { tools: walkValue(body.tools, 'tools', visit) } : {}),
  };
}

/** OpenAI embeddings input: a string or an array of strings. */
function walkEmbeddingInput(body: Json, visit: TextVisitor): Json {
  const input = body.input;
  if (typeof input === 'string') return { ...body, input: visit(input, 'input') };
  if (Array.isArray(input)) return { ...body, input: input.map((item, i) => (typeof item === 'string' ? visit(item, `input[${i}]`) : item)) };
  return body;
}

/**
 * Applies `visit` to every text field a request of `format` sends on — messages, system prompts, tool definitions,
 * tool-call arguments and tool results — and returns a new body (the input is not modified).
 */
export function walkRequestText(format: WireFormat, body: Json, visit: TextVisitor): Json {
  if (format === 'anthropic') return walkAnthropic(body, visit);
  if (format === 'gemini') return walkGemini(body, visit);
  return body.messages !== undefined ? walkOpenAI(body, visit) : walkEmbeddingInput(body, visit);
}
