import { describe, expect, it } from 'vitest';
import { complianceError, createSanitizer, findingsHeader, sanitizationConfigSchema } from '../../../src/sanitize/index.js';

const KEY = 'sk-proj-Ab3dEf6hIj9kLm2nOp5qRs8tUv1wXy4zAb7dEf0h';
const GH = 'ghp_' + 'a1B2c3D4e5F6g7H8i9J0k1L2m3N4o5P6q7R8';
const make = (overrides: Record<string, unknown> = {}) => createSanitizer(sanitizationConfigSchema.parse(overrides));

describe('sanitizer', () => {
  it('redacts credentials at every text location of an OpenAI request, keeping tool arguments valid JSON', () => {
    const body = {
      model: 'gpt-4o',
      messages: [
        { role: 'system', content: `system ${KEY}` },
        { role: 'user', content: [{ type: 'text', text: `part ${GH}` }, { type: 'image_url', image_url: { url: 'https://x/y.png' } }] },
        { role: 'assistant', content: null, tool_calls: [{ id: 'c1', type: 'function', function: { name: 'f', arguments: JSON.stringify({ token: KEY, n: 1 }) } }] },
        { role: 'tool', tool_call_id: 'c1', content: `result ${KEY}` },
      ],
      tools: [{ type: 'function', function: { name: 'f', description: `uses ${GH}`, parameters: { type: 'object', properties: { a: { description: KEY } } } } }],
    };
    const result = make().scanRequest(body);
    const text = JSON.stringify(result.body);
    expect(text).not.toContain(KEY);
    expect(text).not.toContain(GH);
    expect(text).toContain('[REDACTED:OPENAI_API_KEY]');
    const args = (result.body.messages as any[])[2].tool_calls[0].function.arguments;
    expect(JSON.parse(args)).toEqual({ token: '[REDACTED:OPENAI_API_KEY]', n: 1 });
    expect(result.findings.map((f) => f.location)).toEqual([
      'messages[0].content', 'messages[1].content[0].text', 'messages[2].tool_calls[0].function.arguments.token',
      'messages[3].content', 'tools[0].function.description', 'tools[0].function.parameters.properties.a.description',
    ]);
    expect(JSON.stringify(result.findings)).not.toContain(KEY); // findings never carry the value
    expect(JSON.stringify(body)).toContain(KEY); // the input is not modified
  });

  it('redacts Anthropic blocks and Gemini parts', () => {
    const anthropic = make().scanRequest({
      system: [{ type: 'text', text: KEY }],
      messages: [
        { role: 'assistant', content: [{ type: 'tool_use', id: 't', name: 'f', input: { nested: { key: KEY } } }] },
        { role: 'user', content: [{ type: 'tool_result', tool_use_id: 't', content: [{ type: 'text', text: GH }] }] },
      ],
    });
    expect(JSON.stringify(anthropic.body)).not.toMatch(/sk-proj|ghp_/);
    expect(anthropic.findings.map((f) => f.location)).toEqual(['system[0].text', 'messages[0].content[0].input.nested.key', 'messages[1].content[0].content[0].text']);
    const gemini = make().scanRequest({
      systemInstruction: { parts: [{ text: KEY }] },
      contents: [{ role: 'model', parts: [{ functionCall: { name: 'f', args: { k: GH } } }] }, { role: 'user', parts: [{ functionResponse: { name: 'f', response: { out: KEY } } }, { text: GH }] }],
    });
    expect(JSON.stringify(gemini.body)).not.toMatch(/sk-proj|ghp_/);
    expect(gemini.findings).toHaveLength(4);
  });

  it('scans every text field, also ones this gateway does not model: names, metadata, documents, base64 text, JSON keys', () => {
    const b64 = (s: string) => Buffer.from(s).toString('base64');
    const openai = make().scanRequest({
      model: 'gpt-4o',
      metadata: { note: KEY },
      prediction: { type: 'content', content: `predicted ${KEY}` },
      messages: [
        { role: 'user', name: KEY, content: [{ type: 'file', file: { filename: 'notes.txt', file_data: `data:text/plain;base64,${b64(`line ${KEY}`)}` } }] },
        { role: 'assistant', content: null, function_call: { name: 'f', arguments: JSON.stringify({ [KEY]: 'as a key' }) } },
      ],
    });
    expect(JSON.stringify(openai.body)).not.toContain(KEY);
    const fileData = (openai.body.messages as any[])[0].content[0].file.file_data as string;
    expect(Buffer.from(fileData.split(',')[1]!, 'base64').toString()).toBe('line [REDACTED:OPENAI_API_KEY]');
    expect(openai.findings.map((f) => f.location).join(' ')).not.toContain(KEY);
    expect(openai.findings).toHaveLength(5);

    const anthropic = make().scanRequest({
      metadata: { user_id: KEY },
      messages: [{ role: 'user', content: [{ type: 'document', source: { type: 'text', media_type: 'text/plain', data: `doc ${GH}` } }, { type: 'search_result', source: 'https://x', title: 't', content: [{ type: 'text', text: KEY }] }] }],
    });
    expect(JSON.stringify(anthropic.body)).not.toMatch(/sk-proj|ghp_/);
    const gemini = make().scanRequest({
      system_instruction: { parts: [{ text: KEY }] },
      contents: [{ role: 'user', parts: [{ inlineData: { mimeType: 'text/plain', data: b64(GH) } }, { inlineData: { mimeType: 'image/png', data: b64(GH) } }, { executableCode: { language: 'PYTHON', code: `k = "${KEY}"` } }] }],
    });
    const parts = (gemini.body.contents as any[])[0].parts;
    expect(Buffer.from(parts[0].inlineData.data, 'base64').toString()).toBe('[REDACTED:GITHUB_TOKEN]');
    expect(parts[1].inlineData.data).toBe(b64(GH)); // binary payloads are not decoded
    expect(JSON.stringify(gemini.body)).not.toContain(KEY);
  });

  it('scans values under keys like id, type or model too when users put text there (tool arguments, metadata)', () => {
    const result = make().scanRequest({
      model: 'gpt-4o',
      metadata: { type: KEY },
      messages: [{ role: 'assistant', content: null, tool_calls: [{ id: 'c1', type: 'function', function: { name: 'f', arguments: JSON.stringify({ id: KEY, format: GH, model: KEY }) } }] }],
    });
    expect(JSON.stringify(result.body)).not.toMatch(/sk-proj|ghp_/);
    expect(result.findings).toHaveLength(4);
    expect((result.body as { model: string }).model).toBe('gpt-4o');
  });

  it('hands a clean body back as it came (no copy), and copies only the branches it changed', () => {
    const clean = { model: 'gpt-4o', messages: [{ role: 'user', content: 'nothing secret here' }, { role: 'user', content: 'nor here' }] };
    expect(make().scanRequest(clean).body).toBe(clean);
    const dirty = { model: 'gpt-4o', messages: [clean.messages[0], { role: 'user', content: `key ${KEY}` }] };
    const { body } = make().scanRequest(dirty);
    expect(body).not.toBe(dirty);
    expect((body.messages as unknown[])[0]).toBe(clean.messages[0]);
  });

  it('keeps a `__proto__` key as a key of the copy it makes when redacting beside it (not as its prototype)', () => {
    const body = JSON.parse(`{"metadata": {"__proto__": {"x": "1"}, "note": "key ${KEY}", "__proto__x": "y"}, "__proto__": "z"}`) as Record<string, unknown>;
    const scanned = make().scanRequest(body).body;
    const metadata = scanned.metadata as Record<string, unknown>;
    expect(Object.keys(metadata)).toEqual(['__proto__', 'note', '__proto__x']);
    expect(Object.getPrototypeOf(metadata)).toBe(Object.prototype);
    expect(JSON.stringify(scanned)).toBe('{"metadata":{"__proto__":{"x":"1"},"note":"key [REDACTED:OPENAI_API_KEY]","__proto__x":"y"},"__proto__":"z"}');
  });

  it('leaves tool arguments byte for byte when they hold nothing to redact, even if something else was redacted', () => {
    const args = '{"order_id": 12345678901234567890, "amount": 1e400, "k":1,"k":2}';
    const result = make().scanRequest({
      messages: [
        { role: 'user', content: `key ${KEY}` },
        { role: 'assistant', content: null, tool_calls: [{ id: 'c1', type: 'function', function: { name: 'f', arguments: args } }] },
      ],
    });
    expect(result.findings).toHaveLength(1);
    expect((result.body.messages as any[])[1].tool_calls[0].function.arguments).toBe(args);
  });

  it('blocks under the compliance gate with a 403 listing types, never values', () => {
    const result = make({ compliance_gate: true }).scanRequest({ messages: [{ role: 'user', content: `k ${KEY}` }] });
    expect(result.blocked).toBe(true);
    const error = complianceError(result.findings);
    expect(error.status).toBe(403);
    expect(error.message).toContain('OPENAI_API_KEY');
    expect(JSON.stringify({ message: error.message, details: error.details })).not.toContain(KEY);
  });

  it('redacts PII only when redact_pii is on, and IPs only with redact_ip', () => {
    const text = 'mail jane@example.com from 10.1.2.3 card 4111 1111 1111 1111';
    expect(make().scanText(text).types).toEqual([]);
    expect(make({ redact_pii: true }).scanText(text).types).toEqual(['EMAIL', 'CREDIT_CARD']);
    expect(make({ redact_pii: true, redact_ip: true }).scanText(text).types).toEqual(['EMAIL', 'IP_ADDRESS', 'CREDIT_CARD']);
  });

  it('does nothing when disabled', () => {
    const body = { messages: [{ role: 'user', content: KEY }] };
    const result = make({ enabled: false }).scanRequest(body);
    expect(result.body).toBe(body);
    expect(result.findings).toEqual([]);
  });

  it('summarises findings for the response header', () => {
    const result = make({ redact_pii: true }).scanRequest({ messages: [{ role: 'user', content: `${KEY} a@b.io c@d.io` }] });
    expect(findingsHeader(result.findings)).toBe('OPENAI_API_KEY=1, EMAIL=2');
  });

  it('finishes on inputs built to make regexes backtrack, and still finds the secret after them', () => {
    const sanitizer = make({ redact_pii: true, redact_ip: true });
    const adversarial = [
      'a'.repeat(100_000), 'sk-'.repeat(30_000), '@'.repeat(100_000), 'a@'.repeat(50_000), '1'.repeat(100_000),
      '1 '.repeat(50_000), '-----BEGIN RSA PRIVATE KEY-----'.repeat(3_000), 'password='.repeat(10_000), 'eyJ.'.repeat(25_000), '-eyJ'.repeat(25_000),
      'Bearer '.repeat(14_000), 'DE89 '.repeat(20_000), '+1 ('.repeat(25_000), 'xoxb-'.repeat(20_000), '1.1.1.'.repeat(16_000),
    ];
    for (const noise of adversarial) {
      const { text, types } = sanitizer.scanText(`${noise} ${KEY}`);
      expect(text).not.toContain(KEY);
      // An unterminated private-key block swallows the rest of the text (half a key is still a secret).
      expect(types).toContain(noise.startsWith('-----BEGIN') ? 'PRIVATE_KEY' : 'OPENAI_API_KEY');
    }
  });
});
