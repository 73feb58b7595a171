import { readFileSync } from 'node:fs';
import { join } from 'node:path';
import { describe, expect, it } from 'vitest';
import { CREDENTIAL_DETECTORS, IP_DETECTOR, PII_DETECTORS, createTextScanner, runDetectors, shannonEntropy, type TextFinding } from '../../../src/sanitize/index.js';

/**
 * The scanner's shortcuts — one combined prefilter pass that decides which detectors run, and anchored detectors
 * tried only near their keywords — must never change a result: on any text it must find exactly what every detector's
 * own global pattern finds over the whole text, with no prefilter and no anchor.
 */
const ALL = [...CREDENTIAL_DETECTORS, ...PII_DETECTORS, IP_DETECTOR];

/** The plainest reading of the rules: PEM blocks, then each detector's matchAll in order, earlier findings winning. */
function reference(text: string): TextFinding[] {
  const findings = runDetectors(text, [], true);
  for (const detector of ALL) {
    for (const match of text.matchAll(new RegExp(detector.pattern.source, detector.pattern.flags))) {
      const secret = match[1] ?? match[0];
      const start = match.index + (match[1] === undefined ? 0 : match[0].indexOf(match[1]));
      const end = start + secret.length;
      if ((!detector.validate || detector.validate(secret)) && !findings.some((f) => start < f.end && end > f.start)) findings.push({ type: detector.type, category: detector.category, start, end });
    }
  }
  return findings.sort((a, b) => a.start - b.start);
}
const scan = createTextScanner(ALL, true);

const corpus = JSON.parse(readFileSync(join(import.meta.dirname, '../../fixtures/sanitize/corpus.json'), 'utf8')) as Array<{ text: string }>;

/** Pieces that exercise every needle, anchor and boundary: keywords in any case, prefixes, separators, look-alikes. */
const PIECES = [
  ...corpus.map((c) => c.text),
  'password', 'PASSWORD', 'PassWd', 'pwd', 'Secret', 'TOKEN', 'api_key', 'API-KEY', 'apikey', 'ApiKey', 'aws', 'AWS_SECRET_ACCESS_KEY',
  'SECRET_ACCESSKEY', 'secretaccess_key', 'SecretAccessKey', 'secret_access_key', 'SECRET_ACCESS_KEY=', 'Zx9Qw8Er-7Ty6Ui5', 'DB_', 'MYSQL_ROOT_', 'a_', 'x-', '_', '-', '=', ': ', '"', "'", ' ', '\n', '.', '@',
  'jane.doe+tag@example.com', 'user@host', '@@', 'sk-', 'sk-ant-', 'sk-meshgate-', 'mg-0123456789abcdef.', 'eyJ', 'eyJhbGciOiJIUzI1NiJ9.', 'Bearer ',
  'bearer', 'xoxb-', 'ghp_', 'github_pat_', 'AKIA', 'A3TX', 'AIza', '_live_', 'sk_live_', '-----BEGIN ', 'PRIVATE KEY-----', '-----END ',
  'Ab3dEf6hIj9kLm2nOp5qRs8tUv1wXy4zAb7dEf0h', 'wJalrXUtnFEMI/K7MDENG/bPxRfiCYEXAMPLEKEY', 'Zx9Qw8Er7Ty6Ui5Op4As3Df', '4111 1111 1111 1111',
  'DE89 3704 0044 0532 0130 00', '+1 (555) 010-9999', '123-45-6789', '192.168.1.20', '10.0.0.1', 'İ', 'K', 'ſ', '漢字', 'é',
  'a'.repeat(30), 'A1_'.repeat(12), 'x'.repeat(70), 'the quick brown fox ',
];

/** A seeded generator (mulberry32), so a failure names a text that can be reproduced. */
function random(seed: number): () => number {
  return () => {
    seed = (seed + 0x6d2b79f5) | 0;
    let t = Math.imul(seed ^ (seed >>> 15), 1 | seed);
    t = (t + Math.imul(t ^ (t >>> 7), 61 | t)) ^ t;
    return ((t ^ (t >>> 14)) >>> 0) / 4294967296;
  };
}

describe('text scanner', () => {
  it('finds exactly what every detector pattern finds over the whole text, on the corpus and on random mixes of its pieces', () => {
    const next = random(16);
    const texts = [...corpus.map((c) => c.text)];
    for (let i = 0; i < 2_000; i++) {
      const parts = 1 + Math.floor(next() * 12);
      let text = '';
      for (let p = 0; p < parts; p++) text += PIECES[Math.floor(next() * PIECES.length)];
      texts.push(text);
    }
    const differing = texts.filter((text) => JSON.stringify(scan(text)) !== JSON.stringify(reference(text)));
    expect(differing.slice(0, 5).map((text) => ({ text, scanned: scan(text), reference: reference(text) }))).toEqual([]);
  });

  it('finds a generic secret behind a prefix of up to four groups, and an e-mail address behind a 64-character local part', () => {
    const prefixed = 'AAAAAAAAAAAAAAAAAAAAAAAA_BBBBBBBBBBBBBBBBBBBBBBBB_CCCCCCCCCCCCCCCCCCCCCCCC_DDDDDDDDDDDDDDDDDDDDDDDD_PASSWORD=Zx9Qw8Er7Ty6Ui5Op4As3Df';
    expect(scan(`x ${prefixed} y`).map((f) => f.type)).toEqual(['GENERIC_SECRET']);
    expect(scan(`x ${prefixed} y`)).toEqual(reference(`x ${prefixed} y`));
    const local = 'a'.repeat(64);
    expect(scan(`mail ${local}@example.com now`)).toEqual([{ type: 'EMAIL', category: 'pii', start: 5, end: 5 + 64 + 12 }]);
  });

  it('computes the same entropy as a plain count per code point, to the last bit', () => {
    const plain = (text: string) => {
      const counts = new Map<string, number>();
      for (const ch of text) counts.set(ch, (counts.get(ch) ?? 0) + 1);
      let entropy = 0;
      for (const count of counts.values()) entropy -= (count / text.length) * Math.log2(count / text.length);
      return entropy;
    };
    const next = random(7);
    for (const piece of PIECES) expect(shannonEntropy(piece)).toBe(plain(piece));
    for (let i = 0; i < 500; i++) {
      const text = Array.from({ length: 1 + Math.floor(next() * 60) }, () => PIECES[Math.floor(next() * PIECES.length)]![0]).join('');
      expect(shannonEntropy(text)).toBe(plain(text));
    }
  });

  it('names an AWS secret under every key spelling its pattern takes (SECRET_ACCESSKEY, secretaccess_key)', () => {
    for (const key of ['SECRET_ACCESSKEY', 'secretaccess_key']) {
      const text = `${key} = wJalrXUtnFEMI/K7MDENG/bPxRfiCYEXAMPLEKEY`;
      expect(scan(text).map((f) => f.type)).toEqual(['AWS_SECRET_ACCESS_KEY']);
    }
  });
});
