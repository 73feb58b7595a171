import type { Category, Detector } from './detectors.js';

export interface TextFinding {
  type: string;
  category: Category;
  start: number;
  end: number;
}

/** Where a PEM block starts: also the private-key scan's prefilter needle. */
const PEM_BEGIN = '-----BEGIN ';

/**
 * PEM private key blocks (gitleaks: private-key), found with indexOf instead of a regex so that many BEGIN lines
 * without an END cannot make scanning quadratic. A block with no END is redacted to the end of the text: half a
 * private key is still a secret.
 */
function findPrivateKeys(text: string): TextFinding[] {
  const found: TextFinding[] = [];
  let from = 0;
  for (;;) {
    const begin = text.indexOf(PEM_BEGIN, from);
    if (begin < 0) return found;
    const headerEnd = text.indexOf('-----', begin + 11);
    if (headerEnd < 0) return found;
    if (headerEnd - begin > 100 || !text.slice(begin, headerEnd).includes('PRIVATE KEY')) {
      from = headerEnd + 5;
      continue;
    }
    const endMarker = text.indexOf('-----END ', headerEnd + 5);
    if (endMarker < 0) {
      found.push({ type: 'PRIVATE_KEY', category: 'credential', start: begin, end: text.length });
      return found;
    }
    const close = text.indexOf('-----', endMarker + 9);
    const end = close < 0 ? text.length : close + 5;
    found.push({ type: 'PRIVATE_KEY', category: 'credential', start: begin, end });
    from = end;
  }
}

/** One needle of a prefilter and the gate (detector, or the private-key scan) that it opens. */
interface Needle {
  text: string;
  /** ASCII case-insensitive (the detector's `prefilterLower`); `text` is then lower case. */
  caseless: boolean;
  gate: number;
}

const escapeRegExp = (text: string) => text.replace(/[.*+?^${}()|[\]\\/-]/g, '\\$&');
/**
 * A needle as regex atoms, one per character: `token` (caseless) → `[Tt]`, `[Oo]`, …, so one regex can hold
 * case-sensitive and caseless needles together.
 */
const atomsOf = (needle: Needle) => [...needle.text].map((ch) => (needle.caseless && ch >= 'a' && ch <= 'z' ? `[${ch.toUpperCase()}${ch}]` : escapeRegExp(ch)));

/**
 * One regex matching wherever any of `needles` starts, written as a trie: needles that share a beginning share its
 * atoms (`sk-(?:meshgate-|ant-)?`, `A(?:KIA|SIA|…)`), so at each position of a text the engine tries each distinct
 * first atom once instead of every needle in turn (a fifth less time over clean prose than the flat alternation).
 * Where in the text it matches is all a caller may use: which needles start there is for `needleAt` to say.
 */
function needleRegex(needles: readonly Needle[]): RegExp {
  type Node = Map<string, Node>;
  const root: Node = new Map();
  const ends = new WeakSet<Node>();
  for (const needle of needles) {
    let node = root;
    for (const atom of atomsOf(needle)) {
      let child = node.get(atom);
      if (!child) node.set(atom, (child = new Map()));
      node = child;
    }
    ends.add(node);
  }
  const source = (node: Node): string => {
    const branches = [...node].map(([atom, child]) => atom + source(child));
    if (branches.length === 0) return '';
    const group = branches.length === 1 && !ends.has(node) ? branches[0]! : `(?:${branches.join('|')})`;
    // A needle ends here and longer ones go on: the shorter one already matches, the rest is optional.
    return ends.has(node) ? `${group}?` : group;
  };
  // No needle: a regex that matches nowhere (an empty source would match everywhere).
  return root.size === 0 ? /(?!)/g : new RegExp(source(root), 'g');
}

/** Whether `needle` occurs in `text` at `at`, ignoring ASCII case when it is caseless. */
function needleAt(text: string, at: number, needle: Needle): boolean {
  if (!needle.caseless) return text.startsWith(needle.text, at);
  if (at + needle.text.length > text.length) return false;
  for (let i = 0; i < needle.text.length; i++) {
    const want = needle.text.charCodeAt(i);
    const got = text.charCodeAt(at + i);
    // For a lower-case ASCII letter, `| 0x20` folds exactly its upper-case form onto it and nothing else.
    if (got !== want && !(want >= 0x61 && want <= 0x7a && (got | 0x20) === want)) return false;
  }
  return true;
}

/** Bounds the cache of combined prefilter regexes (one per set of gates still closed; a few in practice). */
const MAX_CACHED_PREFILTERS = 256;

/** Every match of a global `pattern` in `text`, as `matchAll` finds them (without its per-call copy of the regex). */
function allMatches(pattern: RegExp, text: string): RegExpExecArray[] {
  const found: RegExpExecArray[] = [];
  pattern.lastIndex = 0;
  for (let match = pattern.exec(text); match; match = pattern.exec(text)) {
    found.push(match);
    if (match[0] === '') pattern.lastIndex++;
  }
  pattern.lastIndex = 0;
  return found;
}

/** The sticky twin of each anchored detector's pattern, for trying it at one position. */
const stickyPatterns = new WeakMap<RegExp, RegExp>();
const stickyOf = (pattern: RegExp) => {
  let sticky = stickyPatterns.get(pattern);
  if (!sticky) stickyPatterns.set(pattern, (sticky = new RegExp(pattern.source, pattern.flags.replace('g', '') + 'y')));
  return sticky;
};

/**
 * The same matches as `allMatches(detector.pattern, text)`, trying the pattern only where its anchor allows a match
 * to start. Let k be the first anchor occurrence at or after the scan position: a match starting before k − reach, or
 * with a non-`lead` character between its start and k, would have to contain an anchor occurrence before k, so none
 * does; the starts left (often just k) are tried in order with the sticky pattern, which finds at a given start the
 * very match the global one would. With none there, the scan moves past k. A backtracking pattern with a bounded
 * prefix (`DB_PASSWORD=`, an e-mail's local part) is then tried near its keywords only, not at every word.
 */
function anchoredMatches(detector: Detector & { anchor: NonNullable<Detector['anchor']> }, text: string): RegExpExecArray[] {
  const { pattern: anchor, reach, lead } = detector.anchor;
  const sticky = stickyOf(detector.pattern);
  const found: RegExpExecArray[] = [];
  let from = 0;
  while (from <= text.length) {
    anchor.lastIndex = from;
    const at = anchor.exec(text);
    if (!at) break;
    const k = at.index;
    const floor = Math.max(from, k - reach);
    let start = k;
    while (start > floor && lead(text.charCodeAt(start - 1))) start--;
    let match: RegExpExecArray | null = null;
    for (; start <= k && !match; start++) {
      sticky.lastIndex = start;
      match = sticky.exec(text);
    }
    if (match) {
      found.push(match);
      from = match.index + match[0].length + (match[0] === '' ? 1 : 0);
    } else from = k + 1;
  }
  anchor.lastIndex = 0;
  return found;
}

/**
 * Runs detectors in order over one string, earlier ones winning overlaps (this gateway's own tokens before generic
 * JWTs, specific keys before generic `password=` values), with the PEM private-key scan first when `privateKeys`.
 * Returns non-overlapping findings sorted by position. Every detector given runs, whatever its prefilter: this is
 * what a scanner's result must equal (the prefilter only saves work).
 */
export function runDetectors(text: string, detectors: readonly Detector[], privateKeys: boolean): TextFinding[] {
  // Kept sorted by position; findings never overlap, so their ends are in order too and one binary search finds
  // where a new one would go and whether it overlaps its neighbour (a text with many findings stays linear-ish).
  const findings: TextFinding[] = privateKeys ? findPrivateKeys(text) : [];
  const insertAt = (start: number, end: number): number => {
    let low = 0;
    let high = findings.length;
    while (low < high) {
      const mid = (low + high) >>> 1;
      if (findings[mid]!.end > start) high = mid;
      else low = mid + 1;
    }
    return low < findings.length && findings[low]!.start < end ? -1 : low;
  };
  for (const detector of detectors) {
    const matches = detector.anchor ? anchoredMatches(detector as Parameters<typeof anchoredMatches>[0], text) : allMatches(detector.pattern, text);
    for (const match of matches) {
      const secret = match[1] ?? match[0];
      const start = match.index + (match[1] === undefined ? 0 : match[0].indexOf(match[1]));
      const end = start + secret.length;
      if (detector.validate && !detector.validate(secret)) continue;
      const at = insertAt(start, end);
      if (at < 0) continue;
      findings.splice(at, 0, { type: detector.type, category: detector.category, start, end });
    }
  }
  return findings;
}

/** Finds secrets in one string: the findings of `runDetectors` with the same detectors, found with less work. */
export type TextScanner = (text: string) => TextFinding[];

/**
 * A scanner for `detectors` (and PEM private keys when `privateKeys`). A detector's regex runs only on a string where
 * one of its prefilter needles occurs, and all needles are looked for in one pass: a single regex alternating every
 * needle of the gates still closed. Each match opens at least one gate, and the scan resumes just after it with the
 * needles left, so a string is read once however many detectors there are (separate `includes` per needle read a
 * clean string ~30 times). A clean string, the common case, costs that one regex pass and nothing else.
 */
export function createTextScanner(detectors: readonly Detector[], privateKeys: boolean): TextScanner {
  const needles: Needle[] = [];
  const gated: number[] = []; // gate → index into detectors (−1: the private-key scan)
  const gateOf: number[] = detectors.map(() => -1); // detector → its gate (−1: no prefilter, always runs)
  if (privateKeys) {
    needles.push({ text: PEM_BEGIN, caseless: false, gate: gated.length });
    gated.push(-1);
  }
  detectors.forEach((detector, index) => {
    if (detector.prefilter.length === 0) return;
    for (const needle of detector.prefilter) {
      needles.push({ text: detector.prefilterLower ? needle.toLowerCase() : needle, caseless: detector.prefilterLower === true, gate: gated.length });
    }
    gateOf[index] = gated.length;
    gated.push(index);
  });
  const cache = new Map<string, { regex: RegExp; needles: Needle[]; gates: number[] }>();
  const prefilterFor = (closed: number[]) => {
    const key = closed.join(',');
    let entry = cache.get(key);
    if (!entry) {
      const open = new Set(closed);
      const left = needles.filter((n) => open.has(n.gate));
      if (cache.size >= MAX_CACHED_PREFILTERS) cache.clear();
      entry = { regex: needleRegex(left), needles: left, gates: closed };
      cache.set(key, entry);
    }
    return entry;
  };
  const first = prefilterFor(gated.map((_, gate) => gate));
  const ungated = detectors.filter((_, index) => gateOf[index] === -1);

  /** Which gates have a needle somewhere in `text` (undefined: none, the common case). */
  const openGates = (text: string): boolean[] | undefined => {
    first.regex.lastIndex = 0;
    let match = first.regex.exec(text);
    if (!match) return undefined;
    const hit: boolean[] = gated.map(() => false);
    let entry = first;
    for (;;) {
      // Every needle still looked for that starts here (`sk-` and `sk-ant-` share a start), not only the one matched.
      for (const needle of entry.needles) if (!hit[needle.gate] && needleAt(text, match.index, needle)) hit[needle.gate] = true;
      const closed = entry.gates.filter((gate) => !hit[gate]);
      if (closed.length === 0) return hit;
      entry = prefilterFor(closed);
      entry.regex.lastIndex = match.index + 1;
      match = entry.regex.exec(text);
      if (!match) return hit;
    }
  };

  return (text) => {
    const hit = openGates(text);
    if (!hit) return ungated.length === 0 ? [] : runDetectors(text, ungated, false);
    const selected = detectors.filter((_, index) => gateOf[index] === -1 || hit[gateOf[index]!]);
    return runDetectors(text, selected, privateKeys && hit[0]!);
  };
}

/** Replaces each finding with `[REDACTED:<TYPE>]`. */
export function redact(text: string, findings: TextFinding[]): string {
  let out = '';
  let cursor = 0;
  for (const finding of findings) {
    out += text.slice(cursor, finding.start) + `[REDACTED:${finding.type}]`;
    cursor = finding.end;
  }
  return out + text.slice(cursor);
}
