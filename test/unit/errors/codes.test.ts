import { readdirSync, readFileSync } from 'node:fs';
import { dirname, join, relative, resolve } from 'node:path';
import { fileURLToPath } from 'node:url';
import { describe, expect, it } from 'vitest';
import { README, errorTable, withErrorTable } from '../../../scripts/docs-errors.js';
import { ERROR_CODES, GatewayError, UpstreamError, badRequest, errorBody, forbidden, isErrorCode, notFound, toGatewayError, unauthorized } from '../../../src/errors/index.js';

const SRC = resolve(dirname(fileURLToPath(import.meta.url)), '../../../src');

function sourceFiles(dir: string): string[] {
  return readdirSync(dir, { withFileTypes: true }).flatMap((entry) => {
    const path = join(dir, entry.name);
    return entry.isDirectory() ? sourceFiles(path) : entry.name.endsWith('.ts') ? [path] : [];
  });
}

/** The top-level arguments of the call whose `(` is at `open`, as source text (strings and nesting respected). */
function callArguments(text: string, open: number): string[] {
  const args: string[] = [];
  const closers: string[] = [];
  let current = '';
  for (let i = open + 1; i < text.length; i++) {
    const char = text[i]!;
    if (char === '\'' || char === '"' || char === '`') {
      // Skipped whole; a template's `${…}` cannot hold a code in the position checked here.
      let j = i + 1;
      while (j < text.length && text[j] !== char) j += text[j] === '\\' ? 2 : 1;
      current += text.slice(i, j + 1);
      i = j;
      continue;
    }
    if (closers.length === 0 && (char === ')' || char === ',')) {
      args.push(current.trim());
      current = '';
      if (char === ')') return args;
      continue;
    }
    if (char === '(' || char === '[' || char === '{') closers.push(char);
    else if (char === ')' || char === ']' || char === '}') closers.pop();
    current += char;
  }
  throw new Error('unbalanced call');
}

/** Where each constructor or helper takes its code: an argument index, or `code:` inside the options argument. */
const CODE_POSITIONS: Record<string, number | { optionsAt: number }> = {
  'new GatewayError': 0,
  badRequest: 2,
  notFound: 1,
  unauthorized: 1,
  forbidden: 1,
  'new UpstreamError': { optionsAt: 2 },
};
const CALL = new RegExp(`(?<![\\w.])(${Object.keys(CODE_POSITIONS).join('|')})\\(`, 'g');
const LITERAL = /^'([^']*)'$/;

/** Every code written as a literal where an error is built in src/, with the place it is written. */
function codesWrittenInSrc(): Array<{ code: string; at: string }> {
  const found: Array<{ code: string; at: string }> = [];
  for (const file of sourceFiles(SRC)) {
    const text = readFileSync(file, 'utf8');
    for (const match of text.matchAll(CALL)) {
      const position = CODE_POSITIONS[match[1]!]!;
      const args = callArguments(text, match.index + match[0].length - 1);
      const at = `${relative(SRC, file)}:${text.slice(0, match.index).split('\n').length}`;
      const written = typeof position === 'number'
        ? LITERAL.exec(args[position] ?? '')?.[1]
        : /\bcode:\s*'([^']*)'/.exec(args[position.optionsAt] ?? '')?.[1];
      if (written !== undefined) found.push({ code: written, at });
    }
  }
  return found;
}

describe('error code table', () => {
  it('the README shows exactly the table (regenerate with `npm run docs:errors`)', () => {
    const readme = readFileSync(README, 'utf8');
    expect(withErrorTable(readme)).toBe(readme);
    for (const code of Object.keys(ERROR_CODES)) expect(readme).toContain(`| \`${code}\` |`);
  });

  it('knows every code the access-control guide lists', () => {
    const guide = readFileSync(resolve(SRC, '../docs/access-control.md'), 'utf8');
    const section = guide.slice(guide.indexOf('## Errors'), guide.indexOf('\n## ', guide.indexOf('## Errors') + 1));
    const listed = [...section.matchAll(/^\|\s*\d{3}\s*\|([^|]*)\|/gm)].flatMap((row) => [...row[1]!.matchAll(/`([a-z_]+)`/g)].map((m) => m[1]!));
    expect(listed.length).toBeGreaterThan(10);
    expect(listed.filter((code) => !isErrorCode(code))).toEqual([]);
  });

  it('names every code written where an error is built in src/', () => {
    const written = codesWrittenInSrc();
    // The scan finds the ways errors are built today (a scan that found nothing would prove nothing).
    expect(written.length).toBeGreaterThan(40);
    expect(written.filter(({ code }) => !isErrorCode(code))).toEqual([]);
  });

  it('has no code that src/ never uses', () => {
    const sources = sourceFiles(SRC).filter((file) => !file.endsWith(join('errors', 'codes.ts'))).map((file) => readFileSync(file, 'utf8')).join('\n');
    expect(Object.keys(ERROR_CODES).filter((code) => !sources.includes(`'${code}'`))).toEqual([]);
  });

  it('gives each code a snake_case name and a one-line meaning', () => {
    for (const [code, spec] of Object.entries(ERROR_CODES)) {
      expect(code, code).toMatch(/^[a-z]+(_[a-z]+)*$/);
      expect(spec.meaning, code).toMatch(/^[^\n]{10,}$/);
    }
    expect(errorTable().split('\n')).toHaveLength(Object.keys(ERROR_CODES).length + 2);
  });
});

describe('errors built from the table', () => {
  it('take status and type from the code', () => {
    expect(new GatewayError('node_at_capacity', 'full', { retryAfter: 1 })).toMatchObject({ status: 503, type: 'overloaded_error', code: 'node_at_capacity', headers: { 'retry-after': '1' } });
    expect(badRequest('bad', 'model')).toMatchObject({ status: 400, type: 'invalid_request_error', code: 'invalid_request', param: 'model' });
    expect(notFound('none', 'token_not_found')).toMatchObject({ status: 404, type: 'not_found_error' });
    expect(unauthorized('who', 'missing_credentials')).toMatchObject({ status: 401, type: 'authentication_error' });
    expect(forbidden('no', 'model_not_allowed', { model: 'm' })).toMatchObject({ status: 403, type: 'permission_error', details: { model: 'm' } });
    expect(errorBody('openai', new GatewayError('credit_limit_exceeded', 'owes'))).toEqual({ error: { message: 'owes', type: 'permission_error', code: 'credit_limit_exceeded', param: null } });
  });

  it('keep an upstream\'s 4xx when it is the request\'s fault, and the code\'s status otherwise', () => {
    expect(new UpstreamError('p', 'bad field', { upstreamStatus: 422, retryable: false })).toMatchObject({ status: 422, type: 'invalid_request_error', code: 'upstream_error' });
    expect(new UpstreamError('p', 'down', { upstreamStatus: 500, retryable: true })).toMatchObject({ status: 502, type: 'upstream_error', code: 'upstream_error' });
    expect(new UpstreamError('p', 'slow', { retryable: true, code: 'upstream_timeout' })).toMatchObject({ status: 504, type: 'timeout_error' });
    expect(new UpstreamError('peer:x', 'no model', { upstreamStatus: 404, retryable: false, code: 'peer_model_not_found' })).toMatchObject({ status: 404, type: 'not_found_error' });
  });

  it('relay the HTTP server\'s own 4xx under a code of ours, never fastify\'s internal code', () => {
    const tooLong = Object.assign(new Error('URI too long'), { statusCode: 414, code: 'FST_ERR_MAX_PARAM_LENGTH' });
    expect(toGatewayError(tooLong)).toMatchObject({ status: 414, type: 'invalid_request_error', code: 'invalid_request' });
    const media = Object.assign(new Error('Unsupported Media Type'), { statusCode: 415, code: 'FST_ERR_CTP_INVALID_MEDIA_TYPE' });
    expect(toGatewayError(media)).toMatchObject({ status: 415, code: 'invalid_request' });
    expect(toGatewayError(new Error('boom'))).toMatchObject({ status: 500, type: 'api_error', code: 'internal_error' });
  });
});
