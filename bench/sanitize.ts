/**
 * Sanitization cost by prompt size (credential scan + PII), clean prompts and prompts with secrets; then the default
 * (credentials only) on clean prose and on prose full of the generic rule's keywords; then a long conversation (many
 * small strings). Medians over repeats. Linear growth is the point: every pattern is bounded and prefiltered.
 */
import { createSanitizer, sanitizationConfigSchema } from '../src/sanitize/index.js';

const WORDS = 'the quick brown fox jumps over a lazy dog while reading server logs at 10 past 4 on a monday'.split(' ');

function prompt(bytes: number, withSecrets: boolean): string {
  let text = '';
  let i = 0;
  while (text.length < bytes) {
    text += WORDS[i++ % WORDS.length] + ' ';
    if (withSecrets && i % 500 === 0) text += 'key sk-proj-Ab3dEf6hIj9kLm2nOp5qRs8tUv1wXy4zAb7dEf0h mail jane@example.com ';
  }
  return text.slice(0, bytes);
}

function median(values: number[]): number {
  const sorted = [...values].sort((a, b) => a - b);
  return sorted[Math.floor(sorted.length / 2)]!;
}

/** Prose about tokens and passwords in every sentence: the generic-secret rule's keywords everywhere, no secret. */
function keywordPrompt(bytes: number): string {
  return 'Count the tokens of this reply and keep the token budget small; never print a password or an api_key. '.repeat(Math.ceil(bytes / 100)).slice(0, bytes);
}

/** A conversation of 100 turns with a tool call and its result each (~44 KB, ~1,800 strings and keys to scan). */
function conversation(): Record<string, unknown> {
  const messages: unknown[] = [];
  for (let i = 0; i < 100; i++) {
    messages.push({ role: 'user', content: [{ type: 'text', text: `Please look at item ${i} and tell me what the weather is like in the city.` }] });
    messages.push({ role: 'assistant', content: null, tool_calls: [{ id: `call_${i}`, type: 'function', function: { name: 'get_weather', arguments: JSON.stringify({ city: 'Paris', unit: 'celsius', days: i }) } }] });
    messages.push({ role: 'tool', tool_call_id: `call_${i}`, content: JSON.stringify({ temp: 21, sky: 'clear', wind: { speed: 3, dir: 'NW' } }) });
  }
  return { model: 'm', messages };
}

function timed(scan: () => unknown, repeats: number): number {
  for (let i = 0; i < 3; i++) scan();
  const times: number[] = [];
  for (let i = 0; i < repeats; i++) {
    const started = performance.now();
    scan();
    times.push(performance.now() - started);
  }
  return median(times);
}

export function runSanitizeBenchmark(): string[] {
  const withPii = createSanitizer(sanitizationConfigSchema.parse({ redact_pii: true }));
  const credentials = createSanitizer(sanitizationConfigSchema.parse({}));
  const lines: string[] = [];
  for (const kb of [1, 10, 100, 1000]) {
    const repeats = kb >= 1000 ? 9 : 31;
    const body = (text: string) => ({ model: 'm', messages: [{ role: 'user', content: text }] });
    for (const withSecrets of [false, true]) {
      const request = body(prompt(kb * 1024, withSecrets));
      lines.push(`${String(kb).padStart(4)} KB ${withSecrets ? 'with secrets' : 'clean       '}: median ${timed(() => withPii.scanRequest(request), repeats).toFixed(3)} ms`);
    }
    const clean = body(prompt(kb * 1024, false));
    const keywords = body(keywordPrompt(kb * 1024));
    lines.push(`${String(kb).padStart(4)} KB credentials only (the default): clean ${timed(() => credentials.scanRequest(clean), repeats).toFixed(3)} ms, naming tokens and passwords in every sentence ${timed(() => credentials.scanRequest(keywords), repeats).toFixed(3)} ms`);
  }
  const turns = conversation();
  lines.push(`100-turn conversation with tool calls (44 KB): median ${timed(() => credentials.scanRequest(turns), 101).toFixed(3)} ms (credentials only)`);
  return lines;
}

if (import.meta.url === `file://${process.argv[1]}`) for (const line of runSanitizeBenchmark()) console.log(line);
