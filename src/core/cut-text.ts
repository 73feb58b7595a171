/**
 * `text` cut to at most `max` UTF-16 code units, never between the two halves of a surrogate pair: a cut inside one
 * (an emoji at the limit) would leave a lone surrogate, which JSON.stringify writes as an escape such as `\ud83d` that
 * strict JSON readers refuse (DuckDB's refused a whole batch of usage records for one).
 */
export function cutText(text: string, max: number): string {
  if (text.length <= max) return text;
  const last = text.charCodeAt(max - 1);
  return text.slice(0, last >= 0xd800 && last <= 0xdbff ? max - 1 : max);
}
