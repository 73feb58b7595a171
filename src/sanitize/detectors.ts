/**
 * Secret and PII detectors. Each is a prefilter (cheap substring checks that must hit before its regex runs), a
 * linear-time regex (no nested unbounded quantifiers; every repetition bounded), and an optional validator that
 * rejects look-alikes (checksums, entropy). Pattern sources are cited per detector: gitleaks `config/gitleaks.toml`
 * rule ids, trufflehog detectors, and GitHub secret scanning's documented token formats.
 */

export type Category = 'credential' | 'pii';

export interface Detector {
  type: string;
  category: Category;
  /** At least one must occur in the text (case-sensitive unless `prefilterLower`) for the regex to run. */
  prefilter: string[];
  prefilterLower?: boolean;
  /** Global regex; group 1 (when present) is the secret part to redact, else the whole match. */
  pattern: RegExp;
  validate?: (secret: string) => boolean;
  /**
   * For a pattern that backtracks at every word (a bounded prefix before its keyword): a part every match contains,
   * found by `pattern` (global), which starts at most `reach` characters after the match does, with only `lead`
   * characters between the two. The scan then tries the detector's pattern just before each occurrence instead of
   * at every position (scan-text.ts `anchoredMatches`); the matches are the same.
   */
  anchor?: { pattern: RegExp; reach: number; lead: (charCode: number) => boolean };
}

const isAlnum = (c: number) => (c >= 0x30 && c <= 0x39) || (c >= 0x41 && c <= 0x5a) || (c >= 0x61 && c <= 0x7a);

/** Shannon entropy in bits per character; random tokens score ~4–6, words and placeholders ~2–3. */
export function shannonEntropy(text: string): number {
  // Counts per code point, summed in order of first appearance. ASCII text (nearly every candidate value) is counted
  // in a table instead of a Map: the same figure to the last bit, at a fraction of the cost.
  const ascii = asciiCounts(text);
  const counts: Iterable<number> = ascii ?? codePointCounts(text).values();
  let entropy = 0;
  for (const count of counts) {
    const p = count / text.length;
    entropy -= p * Math.log2(p);
  }
  return entropy;
}

const asciiTable = new Int32Array(128);

/** Character counts of an all-ASCII text in order of first appearance, or undefined when it holds anything else. */
function asciiCounts(text: string): number[] | undefined {
  const order: number[] = [];
  let ascii = true;
  for (let i = 0; i < text.length; i++) {
    const code = text.charCodeAt(i);
    if (code >= 0x80) {
      ascii = false;
      break;
    }
    if (asciiTable[code]++ === 0) order.push(code);
  }
  const counts = order.map((code) => asciiTable[code]!);
  for (const code of order) asciiTable[code] = 0;
  return ascii ? counts : undefined;
}

function codePointCounts(text: string): Map<string, number> {
  const counts = new Map<string, number>();
  for (const ch of text) counts.set(ch, (counts.get(ch) ?? 0) + 1);
  return counts;
}

/** gitleaks' generic-api-key rule uses 3.5 bits/char as the line between a secret and an ordinary word. */
export const GENERIC_ENTROPY_THRESHOLD = 3.5;

/** Luhn checksum (ISO/IEC 7812-1) for payment card numbers. */
export function luhnValid(digits: string): boolean {
  let sum = 0;
  for (let i = 0; i < digits.length; i++) {
    let d = digits.charCodeAt(digits.length - 1 - i) - 48;
    if (i % 2 === 1) {
      d *= 2;
      if (d > 9) d -= 9;
    }
    sum += d;
  }
  return sum % 10 === 0;
}

/** IBAN lengths per country (ISO 13616 registry, common SEPA countries and a few others). */
const IBAN_LENGTHS: Record<string, number> = {
  AD: 24, AT: 20, BE: 16, BG: 22, CH: 21, CY: 28, CZ: 24, DE: 22, DK: 18, EE: 20, ES: 24, FI: 18, FR: 27, GB: 22,
  GR: 27, HR: 21, HU: 28, IE: 22, IS: 26, IT: 27, LI: 21, LT: 20, LU: 20, LV: 21, MC: 27, MT: 31, NL: 18, NO: 15,
  PL: 28, PT: 25, RO: 24, SE: 24, SI: 19, SK: 24, SM: 27, TR: 26, AE: 23, SA: 24, IL: 23, BR: 29, QA: 29,
};

/** ISO 13616 mod-97 check of an IBAN (spaces removed). */
export function ibanValid(raw: string): boolean {
  const iban = raw.replace(/ /g, '');
  if (IBAN_LENGTHS[iban.slice(0, 2)] !== iban.length) return false;
  const rearranged = iban.slice(4) + iban.slice(0, 4);
  let remainder = 0;
  for (const ch of rearranged) {
    const value = ch >= 'A' && ch <= 'Z' ? String(ch.charCodeAt(0) - 55) : ch;
    for (const digit of value) remainder = (remainder * 10 + (digit.charCodeAt(0) - 48)) % 97;
  }
  return remainder === 1;
}

const digitsOf = (text: string) => text.replace(/\D/g, '');

/** Issuer prefixes and the lengths each issues (ISO/IEC 7812 IIN ranges as published by the networks). */
const CARD_NETWORKS: Array<{ prefix: RegExp; lengths: number[] }> = [
  { prefix: /^4/, lengths: [13, 16, 19] }, // Visa
  { prefix: /^(?:5[1-5]|2(?:2[2-9]|[3-6]\d|7[01]|720))/, lengths: [16] }, // Mastercard
  { prefix: /^3[47]/, lengths: [15] }, // American Express
  { prefix: /^(?:6011|65|64[4-9]|622)/, lengths: [16, 17, 18, 19] }, // Discover
  { prefix: /^35(?:2[89]|[3-8]\d)/, lengths: [16, 17, 18, 19] }, // JCB
  { prefix: /^3(?:0[0-5]|[689])/, lengths: [14, 15, 16, 17, 18, 19] }, // Diners Club
];

/** Card numbers: a known issuer prefix with one of its lengths, and a valid Luhn checksum. */
function cardValid(match: string): boolean {
  const digits = digitsOf(match);
  const network = CARD_NETWORKS.find((n) => n.prefix.test(digits));
  return network !== undefined && network.lengths.includes(digits.length) && luhnValid(digits);
}

/**
 * Phone numbers: an international number (+ and 8–15 digits, E.164) or a national one written with the usual
 * grouping (10–11 digits with separators). Digit runs without separators are left alone (ids, amounts, timestamps).
 */
function phoneValid(match: string): boolean {
  const digits = digitsOf(match);
  if (match.startsWith('+')) return digits.length >= 8 && digits.length <= 15;
  if (digits.length < 10 || digits.length > 11) return false;
  if (!/[ ().-]/.test(match)) return false;
  // Dates and versions (2024-01-15, 1.2.3.4) have short groups only; a phone has a group of 3–4 at its end.
  return /\d{3,4}$/.test(match) && !/^\d{4}-\d{2}-\d{2}/.test(match);
}

/**
 * A value after `token =` / `password:` that is code, not a secret: a call (`lookUp(req.headers)`, `getToken()`, cut
 * at a comma as `getToken(a`), a member chain (`process.env.JWT_SECRET`, `os.environ[`), or a variable reference
 * (`${DB_PASSWORD}`, `$API_KEY`). Prompts are full of code; these shapes have the entropy of a secret but hold none.
 * The shape is strict, quoted or not: every name is identifier-like (letters, `_` or `$`, digits only at its end), a
 * call's arguments are names, dots and brackets only, and `$NAME` starts with two capitals — so generated secrets
 * with a dot or a parenthesis (`Kd8sL2.Vn5mQ9wR`, `hunter2(xQ7!z#`) are still reported. A passphrase of dotted plain
 * words (`correct.horse.battery`) has the member-chain shape and is not reported by this rule.
 */
const NAME = String.raw`[A-Za-z_$][A-Za-z_$]*\d*`;
const CODE_VALUE = new RegExp(String.raw`^(?:${NAME}(?:\.${NAME})*\([\w$.\[\]]*\)?|${NAME}(?:\.${NAME})+\[?|\$\{[\w.]+\}|\$[A-Z_]{2,}[A-Z0-9_]*)$`);
export const looksLikeCode = (value: string) => CODE_VALUE.test(value);

/** The keywords of the generic-secret rule: one source for its pattern and for its anchor. */
const GENERIC_KEYWORD = 'password|passwd|pwd|secret|token|api[_-]?key';

export const CREDENTIAL_DETECTORS: Detector[] = [
  // This gateway's own keys first, so they are named precisely (an access token also contains a JWT).
  { type: 'MESHGATE_ADMIN_KEY', category: 'credential', prefilter: ['sk-meshgate-'], pattern: /\bsk-meshgate-[A-Za-z0-9_-]{40,80}/g },
  { type: 'MESHGATE_ACCESS_TOKEN', category: 'credential', prefilter: ['mg-'], pattern: /\bmg-[0-9a-f]{16}\.[A-Za-z0-9_-]{10,2000}\.[A-Za-z0-9_-]{10,4000}\.[A-Za-z0-9_-]{20,200}/g },
  // gitleaks: anthropic-api-key (sk-ant-api03-…), anthropic-admin-api-key (sk-ant-admin01-…)
  { type: 'ANTHROPIC_API_KEY', category: 'credential', prefilter: ['sk-ant-'], pattern: /\bsk-ant-(?:api|admin|oat|sid)\d{2}-[A-Za-z0-9_-]{20,120}/g },
  // gitleaks: openai-api-key (legacy T3BlbkFJ marker and sk-proj-/sk-svcacct-/sk-admin- project keys)
  { type: 'OPENAI_API_KEY', category: 'credential', prefilter: ['sk-'], pattern: /\bsk-(?!ant-|meshgate-)(?:proj-|svcacct-|admin-|None-)?[A-Za-z0-9_-]{20,200}/g, validate: (s) => /\d/.test(s) && /[A-Za-z]/.test(s.slice(3)) && shannonEntropy(s) >= 3.5 },
  // gitleaks: aws-access-token
  { type: 'AWS_ACCESS_KEY_ID', category: 'credential', prefilter: ['AKIA', 'ASIA', 'ABIA', 'ACCA', 'A3T'], pattern: /\b(?:A3T[A-Z0-9]|AKIA|ASIA|ABIA|ACCA)[A-Z2-7]{16}\b/g },
  // trufflehog aws detector: a 40-character secret next to an aws…secret…key name
  // (also the `SecretAccessKey` field of `aws sts` JSON output); the prefilter names every spelling the pattern takes
  { type: 'AWS_SECRET_ACCESS_KEY', category: 'credential', prefilter: ['aws', 'secretaccesskey', 'secret_access_key', 'secret_accesskey', 'secretaccess_key'], prefilterLower: true, pattern: /\b(?:aws_?secret_?(?:access_?)?key|secret_?access_?key)\b["']?\s{0,5}[:=]\s{0,5}["']?([A-Za-z0-9/+]{40})(?![A-Za-z0-9/+])/gi },
  // gitleaks: github-pat, github-oauth, github-app-token, github-refresh-token, github-fine-grained-pat
  { type: 'GITHUB_TOKEN', category: 'credential', prefilter: ['ghp_', 'gho_', 'ghu_', 'ghs_', 'ghr_', 'github_pat_'], pattern: /\b(?:gh[pousr]_[0-9A-Za-z]{36}|github_pat_[0-9A-Za-z_]{82})\b/g },
  // gitleaks: gcp-api-key
  { type: 'GOOGLE_API_KEY', category: 'credential', prefilter: ['AIza'], pattern: /\bAIza[0-9A-Za-z_-]{35}(?![0-9A-Za-z_-])/g },
  // gitleaks: slack-bot-token, slack-user-token, slack-app-token, slack-legacy-*
  { type: 'SLACK_TOKEN', category: 'credential', prefilter: ['xox'], pattern: /\bxox[baprse]-[0-9A-Za-z-]{10,250}/g, validate: (s) => /\d{6}/.test(s) },
  // gitleaks: stripe-access-token (live keys only; test keys move no money)
  { type: 'STRIPE_LIVE_KEY', category: 'credential', prefilter: ['_live_'], pattern: /\b(?:sk|rk)_live_[0-9A-Za-z]{20,99}\b/g },
  // gitleaks: jwt. A match may start only where a base64url run starts (the look-behind): `\b` would let every
  // "eyJ" inside a run like "-eyJ-eyJ-eyJ…" start a 4,000-character scan, quadratic on such input.
  { type: 'JWT', category: 'credential', prefilter: ['eyJ'], pattern: /(?<![A-Za-z0-9_-])eyJ[A-Za-z0-9_-]{10,4000}\.eyJ[A-Za-z0-9_-]{10,8000}\.[A-Za-z0-9_-]{10,1000}/g },
  // gitleaks: generic-api-key (keyword, assignment, value with entropy >= 3.5)
  {
    type: 'GENERIC_SECRET', category: 'credential', prefilter: ['pass', 'pwd', 'secret', 'token', 'api_key', 'apikey', 'api-key'], prefilterLower: true,
    // The keyword may carry a prefix and a suffix (DB_PASSWORD, MYSQL_ROOT_PASSWORD, SECRET_KEY, GITHUB_TOKEN), each
    // bounded so a long run of `a_a_a_…` stays linear.
    pattern: new RegExp(`(?<![A-Za-z0-9])(?:[A-Za-z0-9]{1,24}[_-]){0,4}(?:${GENERIC_KEYWORD})(?:[_-][A-Za-z0-9]{1,24}){0,3}\\b["']?\\s{0,5}[:=]\\s{0,5}["']?([^\\s"',;\`]{8,200})`, 'gi'),
    // The prefix is at most 4 groups of 24 + 1 characters, all alphanumeric, `_` or `-`.
    anchor: { pattern: new RegExp(GENERIC_KEYWORD, 'gi'), reach: 4 * 25, lead: (c) => isAlnum(c) || c === 0x5f || c === 0x2d },
    validate: (s) => shannonEntropy(s) >= GENERIC_ENTROPY_THRESHOLD && !looksLikeCode(s),
  },
  { type: 'BEARER_TOKEN', category: 'credential', prefilter: ['earer'], pattern: /\b[Bb]earer\s{1,5}([A-Za-z0-9._~+/-]{20,500}=*)/g, validate: (s) => shannonEntropy(s) >= GENERIC_ENTROPY_THRESHOLD },
];

export const PII_DETECTORS: Detector[] = [
  {
    type: 'EMAIL', category: 'pii', prefilter: ['@'], pattern: /\b[A-Za-z0-9._%+-]{1,64}@[A-Za-z0-9-]{1,63}(?:\.[A-Za-z0-9-]{1,63}){0,8}\.[A-Za-z]{2,24}\b/g,
    anchor: { pattern: /@/g, reach: 64, lead: (c) => isAlnum(c) || c === 0x2e || c === 0x5f || c === 0x25 || c === 0x2b || c === 0x2d },
  },
  { type: 'US_SSN', category: 'pii', prefilter: ['-'], pattern: /\b(?!000|666|9\d\d)\d{3}-(?!00)\d{2}-(?!0000)\d{4}\b/g },
  { type: 'IBAN', category: 'pii', prefilter: [], pattern: /\b[A-Z]{2}\d{2}(?: ?[A-Z0-9]{4}){2,7}(?: ?[A-Z0-9]{1,3})?\b/g, validate: ibanValid },
  { type: 'CREDIT_CARD', category: 'pii', prefilter: [], pattern: /\b\d(?:[ -]?\d){12,18}\b/g, validate: cardValid },
  { type: 'PHONE', category: 'pii', prefilter: [], pattern: /(?:\+|\b)\(?\d[\d ().-]{6,20}\d\b/g, validate: phoneValid },
];

export const IP_DETECTOR: Detector = {
  type: 'IP_ADDRESS', category: 'pii', prefilter: ['.'],
  pattern: /\b(?:25[0-5]|2[0-4]\d|1\d\d|[1-9]?\d)(?:\.(?:25[0-5]|2[0-4]\d|1\d\d|[1-9]?\d)){3}\b/g,
};
