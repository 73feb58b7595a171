import { randomUUID } from 'node:crypto';
import { cutText } from '../core/index.js';
import { GatewayError } from '../errors/index.js';
import type { Pipeline } from '../pipeline/pipeline.js';
import type { GatewayResponse } from '../pipeline/types.js';
import type { AnalyticsConfig } from './analytics-config.js';
import type { QueryResult, SqlParams } from './usage-index.js';
import { QUERY_TABLES, SCHEMA_SQL } from './query-schema.js';

export interface AskAnswer {
  question: string;
  sql: string;
  columns: string[];
  rows: QueryResult['rows'];
  row_count: number;
  truncated: boolean;
  summary: string;
  model: string;
}

export interface AskDeps {
  pipeline: Pick<Pipeline, 'handle'>;
  config: AnalyticsConfig;
  query: (sql: string, params?: SqlParams) => Promise<QueryResult>;
}

/** The records of the ask's own model calls carry this source (and the principal admin:analytics). */
export const ASK_SOURCE = 'analytics';
const MAX_ANSWER_TOKENS = 1_024;
/** How much of a model answer without SQL is shown back in the 422. */
const MAX_SHOWN_ANSWER = 2_000;

export function askPrompt(now: number): string {
  return [
    'You write one DuckDB SELECT statement that answers a question about the usage of an LLM gateway.',
    `The database has exactly these tables (${QUERY_TABLES.join(', ')}):`,
    SCHEMA_SQL.trim(),
    'Rules:',
    '- One read-only statement: SELECT, or WITH … SELECT. No PRAGMA, no writes, no other tables.',
    "- Times are epoch milliseconds UTC: for a day use epoch_ms(time)::DATE, for an hour date_trunc('hour', epoch_ms(time)); flags such as ok and stream are integers 0/1.",
    `- The current time is ${now} (${new Date(now).toISOString()}).`,
    '- Name the result columns clearly; put a time or category column first when the answer has one; order the rows meaningfully.',
    'Answer with a JSON object and nothing else: {"sql": "<the statement>", "summary": "<one line saying what the rows show>"}.',
  ].join('\n');
}

/** The text of an OpenAI-format chat answer, whether the pipeline translated it (JSON) or passed it through (bytes). */
function answerText(response: GatewayResponse): string {
  const body = response.body;
  let value: unknown;
  try {
    value = body.kind === 'json' ? body.value : body.kind === 'bytes' ? JSON.parse(Buffer.from(body.value).toString('utf8')) : undefined;
  } catch {
    throw new GatewayError('upstream_invalid_response', 'The analytics model answered with a body that is not JSON.');
  }
  const content = (value as { choices?: Array<{ message?: { content?: unknown } }> } | undefined)?.choices?.[0]?.message?.content;
  if (typeof content !== 'string') throw new GatewayError('upstream_invalid_response', 'The analytics model answered without text.');
  return content;
}

/**
 * The SQL and summary in a model's answer: the JSON object the prompt asks for (bare or in a code fence), else a
 * ```sql block with the first line of prose as the summary.
 */
export function parseAnswer(text: string): { sql?: string; summary: string } {
  const fenced = /```(?:json)?\s*(\{[\s\S]*?\})\s*```/.exec(text)?.[1];
  const braces = text.slice(text.indexOf('{'), text.lastIndexOf('}') + 1);
  for (const candidate of [fenced, text.trim(), braces]) {
    if (!candidate) continue;
    try {
      const parsed = JSON.parse(candidate) as { sql?: unknown; summary?: unknown };
      if (typeof parsed.sql === 'string') return { sql: parsed.sql.trim(), summary: typeof parsed.summary === 'string' ? oneLine(parsed.summary) : '' };
    } catch {
      // not this candidate
    }
  }
  const block = /```sql\s*([\s\S]*?)```/i.exec(text)?.[1];
  const prose = text.replace(/```[\s\S]*?```/g, '').split('\n').map((line) => line.trim()).find(Boolean) ?? '';
  return { sql: block?.trim(), summary: oneLine(prose) };
}

const oneLine = (text: string) => cutText(text.replace(/\s+/g, ' ').trim(), 500);

/**
 * `POST /v1/ask`: asks the configured model, through this node's own pipeline and providers (principal
 * admin:analytics, source `analytics`, recorded like any request), to write SQL for `question`; runs it with the
 * query path's checks and limits. SQL that is missing, invalid or not allowed is a 422 that shows it and why.
 */
export async function askQuestion(deps: AskDeps, question: string, signal: AbortSignal): Promise<AskAnswer> {
  const { config } = deps;
  if (!config.model) throw new GatewayError('analytics_not_configured', 'Questions need a model: set `[analytics] model = "…"` (and optionally `provider`) in the config.');
  const model = config.provider ? `${config.provider}/${config.model}` : config.model;
  const now = Date.now();
  const response = await deps.pipeline.handle({
    id: `req_${randomUUID().replaceAll('-', '')}`,
    format: 'openai',
    operation: 'chat',
    body: {
      model,
      messages: [{ role: 'system', content: askPrompt(now) }, { role: 'user', content: question }],
      temperature: 0,
      max_tokens: MAX_ANSWER_TOKENS,
    },
    model,
    stream: false,
    signal,
    principal: { kind: 'admin', id: 'analytics' },
    source: ASK_SOURCE,
    receivedAt: now,
    hop: { count: 0, visited: [] },
  });
  const text = answerText(response);
  const { sql, summary } = parseAnswer(text);
  if (!sql) throw rejected(text.slice(0, MAX_SHOWN_ANSWER), 'The model\'s answer holds no SQL statement.', 'no_sql');
  let result: QueryResult;
  try {
    result = await deps.query(sql);
  } catch (err) {
    if (err instanceof GatewayError && (err.code === 'sql_not_allowed' || err.code === 'invalid_sql')) throw rejected(sql, err.message, err.code);
    throw err;
  }
  return { question, sql, columns: result.columns, rows: result.rows, row_count: result.row_count, truncated: result.truncated, summary, model };
}

function rejected(sql: string, reason: string, reasonCode: string): GatewayError {
  return new GatewayError('sql_rejected', `The model could not turn the question into an allowed query: ${reason}`, { details: { sql, reason, reason_code: reasonCode } });
}
