import { badRequest } from '../../../errors/index.js';
import type { ImagePart } from '../../canonical.js';
import type { GeminiPart } from './schema.js';

/**
 * Images in Gemini parts (https://ai.google.dev/gemini-api/docs/image-understanding): inline bytes as
 * `inlineData {mimeType, data}` (base64), files by reference as `fileData {mimeType, fileUri}`.
 */

const MIME_TYPE_OF_EXTENSION: Record<string, string> = {
  png: 'image/png',
  jpg: 'image/jpeg',
  jpeg: 'image/jpeg',
  webp: 'image/webp',
  gif: 'image/gif',
  heic: 'image/heic',
  heif: 'image/heif',
};

/** Gemini needs a MIME type next to every fileUri; guessed from the URL's extension, JPEG when there is none. */
export function guessImageMimeType(url: string): string {
  const path = url.split(/[?#]/, 1)[0]!;
  const extension = /\.([a-z0-9]+)$/i.exec(path)?.[1]?.toLowerCase() ?? '';
  return MIME_TYPE_OF_EXTENSION[extension] ?? 'image/jpeg';
}

export function imageToGemini(image: ImagePart): GeminiPart {
  if (image.source.kind === 'base64') return { inlineData: { mimeType: image.source.mediaType, data: image.source.data } };
  return { fileData: { mimeType: guessImageMimeType(image.source.url), fileUri: image.source.url } };
}

/**
 * An inlineData/fileData part as a canonical image. Other media (audio, video, PDF) have no canonical form: refused
 * with a 400 (code `not_translatable`) naming the part.
 */
export function imageFromGemini(part: GeminiPart, where: string): ImagePart | undefined {
  if (part.inlineData) {
    requireImage(part.inlineData.mimeType, `${where}.inlineData.mimeType`);
    return { type: 'image', source: { kind: 'base64', mediaType: part.inlineData.mimeType, data: part.inlineData.data } };
  }
  if (part.fileData) {
    if (part.fileData.mimeType !== undefined) requireImage(part.fileData.mimeType, `${where}.fileData.mimeType`);
    return { type: 'image', source: { kind: 'url', url: part.fileData.fileUri } };
  }
  return undefined;
}

function requireImage(mimeType: string, param: string): void {
  if (!mimeType.toLowerCase().startsWith('image/')) {
    throw badRequest(`Only image media can be translated to another provider format, not '${mimeType}'.`, param, 'not_translatable');
  }
}
