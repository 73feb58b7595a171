import type { CanonicalRequest, FilePart } from '../formats/canonical.js';

/**
 * What a document costs in input tokens, as far as this node can tell from its side (protocol/receipts.md, "Usage
 * bound"). Providers bill a PDF per page: Anthropic 1,500–3,000 tokens of text per page plus the page as an image
 * (https://docs.anthropic.com/en/docs/build-with-claude/pdf-support), Gemini 258 per page
 * (https://ai.google.dev/gemini-api/docs/document-processing). A page is counted at the upper end, so an honest
 * receipt for a PDF this node could read always lies within the bound.
 */
export const PDF_TOKENS_PER_PAGE = 3_000;
/** Gemini's limit per document; a PDF claiming more pages (a crafted page tree) is counted at this many. */
export const MAX_PDF_PAGES = 1_000;
/**
 * Pages assumed for a document this node cannot read (sent by URL, fetched by the provider): Anthropic's limit of
 * pages per request. It only widens the usage bound (at most to the context window the serving peer advertises), it
 * is never what a client is charged: that is the provider's reported usage, capped at the bound.
 */
export const UNREAD_DOCUMENT_PAGES = 100;

const PDF_MAGIC_BASE64 = 'JVBERi0';

/** The pages of a PDF as its objects show them (`/Type /Page` objects, else the page tree's `/Count`); undefined when compressed object streams hide both. */
export function pdfPageCount(bytes: Buffer): number | undefined {
  const text = bytes.toString('latin1');
  const pages = text.match(/\/Type\s*\/Page(?![a-zA-Z])/g)?.length ?? 0;
  if (pages > 0) return Math.min(pages, MAX_PDF_PAGES);
  let count = 0;
  for (const match of text.matchAll(/\/Count\s+(\d+)/g)) count = Math.max(count, Number(match[1]));
  return count > 0 ? Math.min(count, MAX_PDF_PAGES) : undefined;
}

/**
 * A document's input estimate in characters of the 4-per-token rule: a readable PDF at its pages × PDF_TOKENS_PER_PAGE;
 * other inline data at its base64 length (more characters than the text it holds); a document by URL, which this
 * node never sees, at one page — the bound allows the rest (`unreadDocumentAllowance`).
 */
export function documentWeightedLength(part: FilePart, charsPerToken: number): number {
  if (part.source.kind === 'url') return PDF_TOKENS_PER_PAGE * charsPerToken;
  const { data, mediaType } = part.source;
  if (mediaType === 'application/pdf' && data.startsWith(PDF_MAGIC_BASE64)) {
    const pages = pdfPageCount(Buffer.from(data, 'base64'));
    if (pages !== undefined) return pages * PDF_TOKENS_PER_PAGE * charsPerToken;
  }
  return data.length;
}

/**
 * How far the input bound is widened for documents sent by URL: UNREAD_DOCUMENT_PAGES × PDF_TOKENS_PER_PAGE each,
 * never past the context window the serving peer advertises for the model (no honest input is larger), 0 without any.
 */
export function unreadDocumentAllowance(canonical: CanonicalRequest | undefined, contextWindow?: number): number {
  let documents = 0;
  for (const message of canonical?.messages ?? []) for (const part of message.content) if (part.type === 'file' && part.source.kind === 'url') documents++;
  if (documents === 0) return 0;
  const allowance = documents * UNREAD_DOCUMENT_PAGES * PDF_TOKENS_PER_PAGE;
  return contextWindow ? Math.min(allowance, contextWindow) : allowance;
}
