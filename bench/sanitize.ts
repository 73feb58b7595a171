/**
 * Sanitization cost by prompt size (credential scan + PII), clean prompts and prompts with secrets; medians over
 * repeats. Linear growth is the point: every pattern is bounded and prefiltered.
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

export function runSanitizeBenchmark(): string[] {
  const sanitizer = createSanitizer(sanitizationConfigSchema.parse({ redact_pii: true }));
  const lines: string[] = [];
  for (const kb of [1, 10, 100, 1000]) {
    for (const withSecrets of [false, true]) {
      const text = prompt(kb * 1024, withSecrets);
      const body = { model: 'm', messages: [{ role: 'user', content: text }] };
      for (let i = 0; i < 3; i++) sanitizer.scanRequest(body);
      const times: number[] = [];
      const repeats = kb >= 1000 ? 9 : 31;
      for (let i = 0; i < repeats; i++) {
        const started = performance.now();
        sanitizer.scanRequest(body);
        times.push(performance.now() - started);
      }
      lines.push(`${String(kb).padStart(4)} KB ${withSecrets ? 'with secrets' : 'clean       '}: median ${median(times).toFixed(3)} ms`);
    }
  }
  return lines;
}

if (import.meta.url === `file://${process.argv[1]}`) for (const line of runSanitizeBenchmark()) console.log(line);
