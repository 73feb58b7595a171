const ALPHABET = 'ABCDEFGHIJKLMNOPQRSTUVWXYZabcdefghijklmnopqrstuvwxyz0123456789-_';

/**
 * `text` (ending in base64url of a length that leaves unused bits, such as a 64-byte signature) with the lowest
 * unused bit of its last character flipped: it decodes to the same bytes, yet is another text.
 */
export function respellLastCharacter(text: string): string {
  const index = ALPHABET.indexOf(text.at(-1)!);
  if (index < 0) throw new Error('text does not end in a base64url character');
  return `${text.slice(0, -1)}${ALPHABET[index ^ 1]}`;
}
