import type { FastifyPluginAsync } from 'fastify';
import { z } from 'zod';
import { GatewayError } from '../errors/index.js';
import { zodIssueToBadRequest } from '../formats/validation.js';
import type { RouteDoc } from '../openapi/index.js';
import type { Analytics } from './analytics.js';
import { QUERY_TABLES, SCHEMA_SQL } from './query-schema.js';

const MAX_SQL_LENGTH = 20_000;
const MAX_PARAMS = 100;
const sqlValue = z.union([z.string().max(10_000), z.number(), z.boolean().transform((b) => (b ? 1 : 0)), z.null()]);

export const queryBodySchema = z
  .object({
    sql: z.string().min(1).max(MAX_SQL_LENGTH).describe(`One SELECT (or WITH … SELECT) over ${QUERY_TABLES.join(', ')}.`),
    params: z
      .union([z.array(sqlValue).max(MAX_PARAMS), z.record(z.string().regex(/^[A-Za-z_][A-Za-z0-9_]*$/), sqlValue)])
      .optional()
      .describe('Bound parameters: a list for `?` / `$1`, an object for `$name` (`:name` and `@name` are read as `$name`; booleans bind as 1 and 0).'),
  })
  .strict();

export const askBodySchema = z.object({ question: z.string().trim().min(3).max(2_000) }).strict();

const cell = z.union([z.string(), z.number(), z.null()]);
const resultShape = {
  columns: z.array(z.string()),
  rows: z.array(z.array(cell)).describe('Integers beyond 2^53 as decimal text, blobs as base64.'),
  row_count: z.number().int(),
  truncated: z.boolean().describe('More rows (or more text) than `[analytics] max_rows` allows were cut off.'),
};
const queryResultSchema = z.object({ ...resultShape, elapsed_ms: z.number().int() });
const askAnswerSchema = z.object({ question: z.string(), sql: z.string(), ...resultShape, summary: z.string(), model: z.string() });

const docs = {
  query: {
    tag: 'Analytics',
    summary: 'Run read-only SQL over usage records, attempts, findings and receipts',
    description: `DuckDB dialect; one SELECT (or WITH … SELECT) statement, parameters bound, at most \`[analytics] max_rows\` rows and \`timeout_ms\` of run time. The tables:\n\n\`\`\`sql\n${SCHEMA_SQL.trim()}\n\`\`\``,
    body: queryBodySchema,
    bodyExample: { sql: "SELECT model, count(*) AS requests, sum(cost_micros) / 1e6 AS cost_usd FROM records WHERE time >= :since GROUP BY model ORDER BY requests DESC", params: { since: 1764547200000 } },
    responses: {
      200: {
        description: 'The rows.',
        schema: queryResultSchema,
        example: { columns: ['model', 'requests', 'cost_usd'], rows: [['gpt-4o', 1200, 3.42], ['claude-sonnet-4-5', 310, 1.07]], row_count: 2, truncated: false, elapsed_ms: 12 },
      },
    },
  },
  ask: {
    tag: 'Analytics',
    summary: 'Ask a question about usage in plain language',
    description: 'The configured `[analytics] model` writes SQL through this node\'s own pipeline (recorded with source `analytics`); the SQL is checked and run like `POST /v1/query`. 422 `sql_rejected` (with `details.sql` and `details.reason`) when it is not valid or not allowed; 409 `analytics_not_configured` without a model.',
    body: askBodySchema,
    bodyExample: { question: 'Which five models cost the most in the last 7 days?' },
    responses: {
      200: {
        description: 'The SQL the model wrote, its rows and the model\'s one-line summary.',
        schema: askAnswerSchema,
        example: { question: 'Requests per provider today?', sql: "SELECT provider, count(*) AS requests FROM records WHERE epoch_ms(time)::DATE = current_date GROUP BY provider", columns: ['provider', 'requests'], rows: [['openai', 812]], row_count: 1, truncated: false, summary: 'Requests per provider today.', model: 'gpt-4o-mini' },
      },
    },
  },
} satisfies Record<string, RouteDoc>;

function parseBody<S extends z.ZodType>(schema: S, body: unknown): z.infer<S> {
  const parsed = schema.safeParse(body ?? {});
  if (!parsed.success) throw zodIssueToBadRequest(parsed.error);
  return parsed.data;
}

/**
 * `POST /v1/query` and `POST /v1/ask`, operator routes (the app registers them in its admin-guarded scope).
 * Errors are in the OpenAI shape whatever headers the caller sends.
 */
export function analyticsRoutes(analytics: Analytics): FastifyPluginAsync {
  return async (app) => {
    app.post('/v1/query', { config: { format: 'openai', doc: docs.query } }, async (request) => {
      const { sql, params } = parseBody(queryBodySchema, request.body);
      return analytics.query(sql, params);
    });

    app.post('/v1/ask', { config: { format: 'openai', doc: docs.ask } }, async (request, reply) => {
      const { question } = parseBody(askBodySchema, request.body);
      // The model call stops when the caller goes away.
      const controller = new AbortController();
      reply.raw.on('close', () => {
        if (!reply.raw.writableFinished) controller.abort(new GatewayError('client_closed', 'Client closed the connection.'));
      });
      return analytics.ask(question, controller.signal);
    });
  };
}
