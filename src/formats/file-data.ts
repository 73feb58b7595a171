import { badRequest } from '../errors/index.js';
import type { FilePart } from './canonical.js';

const DATA_URL = /^data:([^;,]+);base64,(.*)$/s;
const BASE64 = /^[A-Za-z0-9+/]+={0,2}$/;
/** `%PDF-` in base64, at the start of the data: a PDF whatever its name says. */
const PDF_MAGIC_BASE64 = 'JVBERi0';
const MEDIA_TYPE_OF_EXTENSION: Record<string, string> = { pdf: 'application/pdf', txt: 'text/plain', md: 'text/markdown', csv: 'text/csv', html: 'text/html' };

/**
 * A file sent inline, as OpenAI's `file.file_data` (Chat Completions) or `input_file.file_data` (Responses) carries
 * it: a data URL (`data:application/pdf;base64,…`, what OpenAI's guide shows), or bare base64, whose media type is
 * then read from the bytes (a PDF starts `%PDF-`) or the filename's extension. Anything else is a 400 naming the
 * field: a translated request must say what the bytes are, since Anthropic, Gemini and Bedrock each need it.
 * https://platform.openai.com/docs/guides/pdf-files
 */
export function inlineFilePart(fileData: string, filename: string | undefined, where: string): FilePart {
  const named = filename ? { filename } : {};
  const match = DATA_URL.exec(fileData);
  if (match) return { type: 'file', source: { kind: 'base64', mediaType: match[1]!, data: match[2]! }, ...named };
  const data = fileData.replace(/\s+/g, '');
  if (!BASE64.test(data)) throw badRequest('`file_data` must be base64 or a data URL (data:<media type>;base64,<data>).', where);
  const extension = /\.([a-z0-9]+)$/i.exec(filename ?? '')?.[1]?.toLowerCase() ?? '';
  const mediaType = data.startsWith(PDF_MAGIC_BASE64) ? 'application/pdf' : MEDIA_TYPE_OF_EXTENSION[extension];
  if (!mediaType) throw badRequest('`file_data` without a data URL must be a PDF, or name a file ending .pdf, .txt, .md, .csv or .html, for its type to be known.', where);
  return { type: 'file', source: { kind: 'base64', mediaType, data }, ...named };
}

/** A file stored at OpenAI (`file_id`): only an OpenAI provider, reached without translation, can read it. */
export function storedFileRefused(where: string): never {
  throw badRequest('A file by file_id refers to a file stored at OpenAI, which this gateway cannot read: only an OpenAI provider, given the request as it is, can. Send the file inline (file_data) to reach other providers.', where, 'not_translatable');
}
