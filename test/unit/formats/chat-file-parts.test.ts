import { describe, expect, it } from 'vitest';
import { codecs, providerCodecs } from '../../../src/formats/index.js';

/**
 * Chat Completions `file` content parts (https://platform.openai.com/docs/guides/pdf-files) translated for each target:
 * Anthropic document blocks, Gemini inlineData / fileData, Bedrock DocumentBlocks, Responses input_file; what a target
 * cannot take is a 400 naming the part, never dropped.
 */
const PDF = Buffer.from('%PDF-1.7\n1 0 obj <<>> endobj\ntrailer <<>>\n%%EOF').toString('base64');

const chat = (part: Record<string, unknown>, role = 'user') => codecs.openai.requestToCanonical({
  model: 'm', messages: [{ role, content: [{ type: 'text', text: 'Summarise this.' }, part], ...(role === 'tool' ? { tool_call_id: 'call_1' } : {}) }],
});
const file = (file: Record<string, unknown>) => ({ type: 'file', file });
const userContent = (body: Record<string, unknown>, key = 'messages') => (body[key] as Array<{ content?: unknown; parts?: unknown }>).at(-1)!;

describe('an OpenAI chat file part', () => {
  it('a data-URL PDF becomes an Anthropic base64 document block, with its filename as the title', () => {
    const body = codecs.anthropic.requestFromCanonical(chat(file({ filename: 'report.pdf', file_data: `data:application/pdf;base64,${PDF}` })), 'claude').body as Record<string, unknown>;
    expect(userContent(body).content).toEqual([
      { type: 'text', text: 'Summarise this.' },
      { type: 'document', source: { type: 'base64', media_type: 'application/pdf', data: PDF }, title: 'report.pdf' },
    ]);
  });

  it('bare base64 is read as a PDF from its bytes (%PDF-), whatever the filename', () => {
    const canonical = chat(file({ filename: 'noext', file_data: PDF }));
    expect(canonical.messages[0]!.content[1]).toEqual({ type: 'file', source: { kind: 'base64', mediaType: 'application/pdf', data: PDF }, filename: 'noext' });
  });

  it('becomes Gemini inlineData with application/pdf', () => {
    const body = codecs.gemini.requestFromCanonical(chat(file({ file_data: `data:application/pdf;base64,${PDF}` })), 'gemini-2.5-flash').body as Record<string, unknown>;
    expect(userContent(body, 'contents').parts).toEqual([{ text: 'Summarise this.' }, { inlineData: { mimeType: 'application/pdf', data: PDF } }]);
  });

  it('becomes a Bedrock DocumentBlock with a name Converse accepts', () => {
    const body = providerCodecs.bedrock.requestFromCanonical(chat(file({ filename: 'Q3 report_final.v2.pdf', file_data: `data:application/pdf;base64,${PDF}` })), 'anthropic.claude').body as Record<string, unknown>;
    expect(userContent(body).content).toEqual([{ text: 'Summarise this.' }, { document: { format: 'pdf', name: 'Q3 report-final-v2', source: { bytes: PDF } } }]);
  });

  it('becomes a Responses input_file', () => {
    const body = codecs.responses.requestFromCanonical(chat(file({ filename: 'r.pdf', file_data: `data:application/pdf;base64,${PDF}` })), 'gpt-4o').body as Record<string, unknown>;
    expect(JSON.stringify(body.input)).toContain(`"type":"input_file","filename":"r.pdf","file_data":"data:application/pdf;base64,${PDF}"`);
  });

  it('by file_id is a 400 not_translatable: a file stored at OpenAI that this gateway cannot read', () => {
    expect(() => chat(file({ file_id: 'file-abc123' }))).toThrow(expect.objectContaining({ status: 400, code: 'not_translatable', param: 'messages[0].content[1].file' }));
  });

  it('with data that is neither base64 nor a data URL, or of unknown type, is a 400 naming file_data', () => {
    expect(() => chat(file({ file_data: 'not base64 at all!' }))).toThrow(expect.objectContaining({ status: 400, param: 'messages[0].content[1].file.file_data' }));
    expect(() => chat(file({ file_data: Buffer.from('just bytes').toString('base64') }))).toThrow(expect.objectContaining({ status: 400, param: 'messages[0].content[1].file.file_data' }));
  });

  it('in a tool message is a 400, not dropped', () => {
    expect(() => chat(file({ file_data: `data:application/pdf;base64,${PDF}` }), 'tool')).toThrow(expect.objectContaining({ status: 400, code: 'not_translatable' }));
  });

  it('of a type a target has no document form for is a 400 there', () => {
    const image = chat(file({ file_data: `data:application/zip;base64,${PDF}` }));
    expect(() => codecs.anthropic.requestFromCanonical(image, 'claude')).toThrow(expect.objectContaining({ code: 'not_translatable' }));
    expect(() => providerCodecs.bedrock.requestFromCanonical(image, 'anthropic.claude')).toThrow(expect.objectContaining({ code: 'not_translatable' }));
  });
});

describe('a file by URL (Responses input_file.file_url)', () => {
  const byUrl = (url: string) => codecs.responses.requestToCanonical({ model: 'm', input: [{ role: 'user', content: [{ type: 'input_text', text: 'Read it.' }, { type: 'input_file', file_url: url }] }] });

  it('is an Anthropic URL document', () => {
    const body = codecs.anthropic.requestFromCanonical(byUrl('https://example.com/a.pdf'), 'claude').body as Record<string, unknown>;
    expect(JSON.stringify(userContent(body).content)).toContain('{"type":"document","source":{"type":"url","url":"https://example.com/a.pdf"}}');
  });

  it('is Gemini fileData for a file Gemini holds (Files API, gs://), a 400 for a web URL it would not fetch', () => {
    const files = 'https://generativelanguage.googleapis.com/v1beta/files/abc-123';
    expect(userContent(codecs.gemini.requestFromCanonical(byUrl(files), 'g').body as Record<string, unknown>, 'contents').parts).toContainEqual({ fileData: { mimeType: 'application/pdf', fileUri: files } });
    expect(userContent(codecs.gemini.requestFromCanonical(byUrl('gs://bucket/a.pdf'), 'g').body as Record<string, unknown>, 'contents').parts).toContainEqual({ fileData: { mimeType: 'application/pdf', fileUri: 'gs://bucket/a.pdf' } });
    expect(() => codecs.gemini.requestFromCanonical(byUrl('https://example.com/a.pdf'), 'g')).toThrow(expect.objectContaining({ code: 'not_translatable' }));
  });

  it('is a Bedrock S3 document for s3://, a 400 for a web URL', () => {
    const body = providerCodecs.bedrock.requestFromCanonical(byUrl('s3://bucket/a.pdf'), 'anthropic.claude').body as Record<string, unknown>;
    expect(userContent(body).content).toContainEqual({ document: { format: 'pdf', name: 'document', source: { s3Location: { uri: 's3://bucket/a.pdf' } } } });
    expect(() => providerCodecs.bedrock.requestFromCanonical(byUrl('https://example.com/a.pdf'), 'anthropic.claude')).toThrow(expect.objectContaining({ code: 'not_translatable' }));
  });
});
