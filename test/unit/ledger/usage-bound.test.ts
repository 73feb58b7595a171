import { readFileSync } from 'node:fs';
import { describe, expect, it } from 'vitest';
import { USAGE_BOUND_FACTOR, USAGE_BOUND_SLACK, boundedUsage, hiddenOutputAllowance, usageBound, withinBound } from '../../../src/ledger/index.js';
import { MAX_PDF_PAGES, PDF_TOKENS_PER_PAGE, UNREAD_DOCUMENT_PAGES, unreadDocumentAllowance } from '../../../src/pipeline/document-estimate.js';
import { estimateInputTokens, estimateTextTokens, tokenWeightedLength } from '../../../src/pipeline/token-estimate.js';
import type { CanonicalRequest, FilePart } from '../../../src/formats/canonical.js';

interface Vectors {
  factor: number;
  slack: { input: number; output: number };
  measure: Array<{ text: string; weighted_length: number; tokens: number }>;
  claims: Array<{
    measured: { input: number; output: number };
    reported_reasoning?: number;
    request_output_limit?: number;
    requested_reasoning_budget?: number;
    hidden_output: number;
    bound: { input: number; output: number };
    claimed: { input: number; output: number; cached: number };
    acknowledged: boolean;
    charged: { input: number; output: number; cached: number };
  }>;
  documents: {
    pdf_tokens_per_page: number;
    max_pdf_pages: number;
    unread_document_pages: number;
    cases: Array<{ description: string; pdf?: string; urls?: number; context_window?: number; measured_input: number; unread_allowance: number }>;
  };
}

const vectors = JSON.parse(readFileSync(new URL('../../../protocol/vectors/receipts/usage-bound.json', import.meta.url), 'utf8')) as Vectors;

describe('usage bound vectors (protocol/vectors/receipts/usage-bound.json)', () => {
  it('uses the factor and slack the spec states', () => {
    expect(USAGE_BOUND_FACTOR).toBe(vectors.factor);
    expect(USAGE_BOUND_SLACK).toEqual(vectors.slack);
  });

  it('measures characters as tokens: 4 ASCII characters per token, a token per other code point', () => {
    for (const v of vectors.measure) {
      expect(tokenWeightedLength(v.text), v.text).toBe(v.weighted_length);
      expect(estimateTextTokens(tokenWeightedLength(v.text)), v.text).toBe(v.tokens);
    }
  });

  it('bounds each claim (hidden reasoning allowed up to the request\'s output limit), acknowledges only claims within the bound, and charges the capped figure', () => {
    for (const v of vectors.claims) {
      expect(hiddenOutputAllowance(v.reported_reasoning, v.request_output_limit, v.requested_reasoning_budget)).toBe(v.hidden_output);
      expect(usageBound(v.measured, v.hidden_output)).toEqual(v.bound);
      expect(withinBound(v.claimed, v.bound)).toBe(v.acknowledged);
      expect(boundedUsage(v.claimed, v.bound)).toEqual(v.charged);
    }
  });

  it('measures documents: a readable PDF per page, a document by URL one page plus an allowance up to the advertised context window', () => {
    const { documents } = vectors;
    expect([PDF_TOKENS_PER_PAGE, MAX_PDF_PAGES, UNREAD_DOCUMENT_PAGES]).toEqual([documents.pdf_tokens_per_page, documents.max_pdf_pages, documents.unread_document_pages]);
    for (const v of documents.cases) {
      const parts: FilePart[] = v.pdf !== undefined
        ? [{ type: 'file', source: { kind: 'base64', mediaType: 'application/pdf', data: Buffer.from(v.pdf, 'latin1').toString('base64') } }]
        : Array.from({ length: v.urls ?? 0 }, (_, i) => ({ type: 'file' as const, source: { kind: 'url' as const, url: `https://example.com/${i}.pdf` } }));
      const canonical: CanonicalRequest = { model: 'm', stream: false, messages: [{ role: 'user', content: parts }] };
      expect(estimateInputTokens(canonical), v.description).toBe(v.measured_input);
      expect(unreadDocumentAllowance(canonical, v.context_window), v.description).toBe(v.unread_allowance);
      expect(usageBound({ input: v.measured_input, output: 0 }, 0, v.unread_allowance).input, v.description).toBe(Math.ceil(USAGE_BOUND_FACTOR * v.measured_input) + USAGE_BOUND_SLACK.input + v.unread_allowance);
    }
  });

  it('an honest receipt for a 40-page PDF by URL is acknowledged; one claiming more than the advertised context window is not', () => {
    const canonical: CanonicalRequest = { model: 'm', stream: false, messages: [{ role: 'user', content: [{ type: 'text', text: 'Summarise.' }, { type: 'file', source: { kind: 'url', url: 'https://example.com/a.pdf' } }] }] };
    const bound = usageBound({ input: estimateInputTokens(canonical), output: 100 }, 0, unreadDocumentAllowance(canonical, 200_000));
    // What Anthropic bills for 40 pages at its upper figure, and a claim past what the model could have read.
    expect(withinBound({ input: 40 * 3_000, output: 100, cached: 0 }, bound)).toBe(true);
    expect(withinBound({ input: 250_000, output: 100, cached: 0 }, bound)).toBe(false);
    // Without the allowance the honest claim was refused (the flat 1,600-token count this replaces).
    expect(withinBound({ input: 40 * 3_000, output: 100, cached: 0 }, usageBound({ input: estimateInputTokens(canonical), output: 100 }))).toBe(false);
  });

  it('a scanned PDF is counted by its pages, not its bytes (its base64 length would exceed every context window)', () => {
    const pages = Array.from({ length: 5 }, (_, i) => `${i + 2} 0 obj <</Type /Page>> stream\n${'x'.repeat(400_000)}\nendstream endobj`).join('\n');
    const data = Buffer.from(`%PDF-1.4\n${pages}\n%%EOF`, 'latin1').toString('base64');
    const canonical: CanonicalRequest = { model: 'm', stream: false, messages: [{ role: 'user', content: [{ type: 'file', source: { kind: 'base64', mediaType: 'application/pdf', data } }] }] };
    expect(estimateInputTokens(canonical)).toBe(5 * PDF_TOKENS_PER_PAGE);
  });
});
