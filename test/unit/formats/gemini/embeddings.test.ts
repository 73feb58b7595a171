import { describe, expect, it } from 'vitest';
import { GatewayError, UpstreamError } from '../../../../src/errors/index.js';
import { estimateEmbeddingTokens, geminiCodec } from '../../../../src/formats/gemini/index.js';
import { fixture } from './fixtures.js';

const embeddings = geminiCodec.embeddings!;

describe('Gemini embeddings', () => {
  it('reads an embedContent request, the model coming from the URL', () => {
    expect(embeddings.requestToCanonical(
      { content: { parts: [{ text: 'What is the meaning of life?' }] }, outputDimensionality: 768, taskType: 'RETRIEVAL_QUERY' },
      { model: 'gemini-embedding-001' },
    )).toEqual({ model: 'gemini-embedding-001', input: ['What is the meaning of life?'], dimensions: 768 });
  });

  it('reads a batchEmbedContents request, one input per request', () => {
    const req = embeddings.requestToCanonical({
      requests: [
        { model: 'models/text-embedding-004', content: { parts: [{ text: 'first ' }, { text: 'document' }] } },
        { model: 'models/text-embedding-004', content: { parts: [{ text: 'second' }] } },
      ],
    });
    expect(req).toEqual({ model: 'text-embedding-004', input: ['first document', 'second'] });
  });

  it('answers invalid bodies with a 400 naming the field', () => {
    const thrown = (body: unknown) => {
      try {
        embeddings.requestToCanonical(body, { model: 'm' });
      } catch (err) {
        return err as GatewayError;
      }
      throw new Error('expected a 400');
    };
    expect(thrown({ content: { parts: [] } }).param).toBe('content.parts');
    expect(thrown({ requests: [{ content: { parts: [{ inlineData: {} }] } }] }).param).toBe('requests[0].content.parts[0].text');
    expect(thrown({ requests: [{ content: { parts: [{ text: 'a' }] }, outputDimensionality: 256 }, { content: { parts: [{ text: 'b' }] } }] }))
      .toMatchObject({ status: 400, param: 'requests[1].outputDimensionality', code: 'not_translatable' });
  });

  it('builds batchEmbedContents with the model in each request', () => {
    expect(embeddings.requestFromCanonical({ model: 'text-embedding-3-small', input: ['a', 'b'], dimensions: 256, user: 'u1' }, 'gemini-embedding-001')).toEqual({
      body: {
        requests: [
          { model: 'models/gemini-embedding-001', content: { parts: [{ text: 'a' }] }, outputDimensionality: 256 },
          { model: 'models/gemini-embedding-001', content: { parts: [{ text: 'b' }] }, outputDimensionality: 256 },
        ],
      },
      warnings: ['user'],
    });
  });

  it('reads vectors from batchEmbedContents and embedContent responses, with no usage of its own', () => {
    expect(embeddings.responseToCanonical(fixture('batch-embed-contents-response'))).toEqual({
      model: '',
      embeddings: [[0.013168523, -0.008711934, -0.046782676, 0.00069968984], [-0.018142197, 0.034103647, -0.0063049374, 0.027460316]],
      usage: { inputTokens: 0 },
    });
    expect(embeddings.responseToCanonical(fixture('embed-content-response')).embeddings).toEqual([[0.013168523, -0.008711934, -0.046782676, 0.00069968984]]);
  });

  it('throws UpstreamError on an error body or a body without embeddings', () => {
    expect(() => embeddings.responseToCanonical({ error: { code: 429, message: 'quota', status: 'RESOURCE_EXHAUSTED' } })).toThrow(UpstreamError);
    expect(() => embeddings.responseToCanonical({ data: [] })).toThrow(/without embeddings/);
  });

  it("builds batchEmbedContents' response shape", () => {
    expect(embeddings.responseFromCanonical({ model: 'm', embeddings: [[1, 2], [3, 4]], usage: { inputTokens: 3 } })).toEqual({ embeddings: [{ values: [1, 2] }, { values: [3, 4] }] });
  });

  it('estimates tokens as ceil(characters / 4) per input', () => {
    expect(estimateEmbeddingTokens([])).toBe(0);
    expect(estimateEmbeddingTokens(['abcd'])).toBe(1);
    expect(estimateEmbeddingTokens(['abcde', 'a', ''])).toBe(3);
  });
});
