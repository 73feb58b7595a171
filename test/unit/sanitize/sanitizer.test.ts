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
    const result = make().scanRequest('openai', body);
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
    const anthropic = make().scanRequest('anthropic', {
      system: [{ type: 'text', text: KEY }],
      messages: [
        { role: 'assistant', content: [{ type: 'tool_use', id: 't', name: 'f', input: { nested: { key: KEY } } }] },
        { role: 'user', content: [{ type: 'tool_result', tool_use_id: 't', content: [{ type: 'text', text: GH }] }] },
      ],
    });
    expect(JSON.stringify(anthropic.body)).not.toMatch(/sk-proj|ghp_/);
    expect(anthropic.findings.map((f) => f.location)).toEqual(['system[0].text', 'messages[0].content[0].input.nested.key', 'messages[1].content[0].content[0].text']);
    const gemini = make().scanRequest('gemini', {
      systemInstruction: { parts: [{ text: KEY }] },
      contents: [{ role: 'model', parts: [{ functionCall: { name: 'f', args: { k: GH } } }] }, { role: 'user', parts: [{ functionResponse: { name: 'f', response: { out: KEY } } }, { text: GH }] }],
    });
    expect(JSON.stringify(gemini.body)).not.toMatch(/sk-proj|ghp_/);
    expect(gemini.findings).toHaveLength(4);
  });

  it('blocks under the compliance gate with a 403 listing types, never values', () => {
    const result = make({ compliance_gate: true }).scanRequest('openai', { messages: [{ role: 'user', content: `k ${KEY}` }] });
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
    const result = make({ enabled: false }).scanRequest('openai', body);
    expect(result.body).toBe(body);
    expect(result.findings).toEqual([]);
  });

  it('summarises findings for the response header', () => {
    const result = make({ redact_pii: true }).scanRequest('openai', { messages: [{ role: 'user', content: `${KEY} a@b.io c@d.io` }] });
    expect(findingsHeader(result.findings)).toBe('OPENAI_API_KEY=1, EMAIL=2');
  });

  it('finishes on inputs built to make regexes backtrack, and still finds the secret after them', () => {
    const sanitizer = make({ redact_pii: true, redact_ip: true });
    const adversarial = [
      'a'.repeat(100_000), 'sk-'.repeat(30_000), '@'.repeat(100_000), 'a@'.repeat(50_000), '1'.repeat(100_000),
      '1 '.repeat(50_000), '-----BEGIN RSA PRIVATE KEY-----'.repeat(3_000), 'password='.repeat(10_000), 'eyJ.'.repeat(25_000),
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
