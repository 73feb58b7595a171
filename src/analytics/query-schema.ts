/**
 * The SQL schema of `POST /v1/query` and `POST /v1/ask`: four tables, stable across releases (a column is added,
 * never renamed or removed; `SCHEMA_VERSION` counts changes). It is a mirror of the LevelDB records and ledger in a
 * DuckDB file named for the version, so a change needs no migration: a file of another version is deleted and the
 * mirror refilled from LevelDB. The column comments are part of the contract: the README shows them and the ask
 * prompt gives them to the model.
 */
export const SCHEMA_VERSION = 3;

export const QUERY_TABLES = ['records', 'attempts', 'findings', 'receipts'] as const;
export type QueryTable = (typeof QUERY_TABLES)[number];

/** The DDL (DuckDB), with one comment per column (for readers: DuckDB keeps comments out of the schema). */
export const SCHEMA_SQL = `
-- One row per request this node answered (or refused). Times are epoch milliseconds UTC; money is integer micro-dollars.
CREATE TABLE records (
  id TEXT NOT NULL,               -- request id (x-request-id), unique
  time BIGINT NOT NULL,           -- when it was received, epoch ms UTC
  project TEXT,                   -- x-project header, NULL when absent
  source TEXT,                    -- x-source header (the requester), NULL when absent; 'analytics' for /v1/ask's own calls
  principal_kind TEXT NOT NULL,   -- 'public' | 'token' | 'virtual_key' | 'admin' | 'peer'
  principal_id TEXT,              -- token id, virtual key label or peer id
  client_format TEXT NOT NULL,    -- 'openai' | 'anthropic' | 'gemini'
  operation TEXT NOT NULL,        -- 'chat' | 'embeddings' | 'count_tokens'
  requested_model TEXT NOT NULL,  -- the model the client asked for
  model TEXT,                     -- the model that served it, NULL when nothing did
  provider TEXT,                  -- local provider id that served it, NULL when a peer did or nothing did
  served_by TEXT NOT NULL,        -- 'local' | 'peer' | 'cache' | 'none'
  peer TEXT,                      -- peer id that served it through the mesh
  status INTEGER NOT NULL,        -- HTTP status answered to the client
  error_type TEXT,                -- error type when status >= 400
  attempts INTEGER NOT NULL,      -- targets tried (see the attempts table)
  failovers INTEGER NOT NULL,     -- moves to another target after a failure
  prompt_tokens INTEGER NOT NULL,
  completion_tokens INTEGER NOT NULL,
  cached_tokens INTEGER NOT NULL,       -- part of prompt_tokens read from a prompt cache
  cache_write_tokens INTEGER NOT NULL,  -- part of prompt_tokens written to a prompt cache
  reasoning_tokens INTEGER NOT NULL,    -- part of completion_tokens spent on reasoning, where the provider reports it
  usage_estimated INTEGER NOT NULL,     -- 1 when the gateway estimated the usage (no report from upstream)
  cost_micros BIGINT,             -- cost in micro-dollars, NULL when the model has no known price
  cost_usd DOUBLE GENERATED ALWAYS AS (cost_micros / 1000000.0) VIRTUAL,
  priced INTEGER NOT NULL,        -- 0 when the model had no known price
  latency_ms DOUBLE,              -- total duration
  ttft_ms DOUBLE,                 -- time to first token (streams)
  stream INTEGER NOT NULL,        -- 1 for a streamed answer
  client_aborted INTEGER NOT NULL,-- 1 when the client went away before the end
  findings INTEGER NOT NULL,      -- sanitization findings (see the findings table)
  cache TEXT,                     -- 'hit' (answered from the response cache, at no cost) | 'miss', NULL when not in play
  profile TEXT                    -- the routing profile the request was planned with, NULL when none was in play
);

-- Each target tried for a request, in order: a provider id, or 'peer:<peer id>' for a mesh forward.
CREATE TABLE attempts (
  record_id TEXT NOT NULL,        -- records.id
  time BIGINT NOT NULL,           -- records.time
  n INTEGER NOT NULL,             -- 1 for the first attempt
  target TEXT NOT NULL,
  ok INTEGER NOT NULL,            -- 1 when this attempt answered
  status INTEGER,                 -- upstream status, when there was one
  code TEXT,                      -- error code when it failed
  error TEXT,                     -- error message when it failed (never a secret)
  duration_ms DOUBLE NOT NULL
);

-- Sanitization findings: what kind of secret or personal data was found where, and what was done (never the text).
CREATE TABLE findings (
  record_id TEXT NOT NULL,        -- records.id
  time BIGINT NOT NULL,           -- records.time
  n INTEGER NOT NULL,
  type TEXT NOT NULL,             -- detector, e.g. 'aws_access_key', 'email'
  location TEXT NOT NULL,         -- where in the request body
  action TEXT NOT NULL            -- 'redacted' | 'blocked'
);

-- Mesh usage receipts (signed by the node that served the request), both directions.
CREATE TABLE receipts (
  channel TEXT NOT NULL,          -- the pair of peers
  seq BIGINT NOT NULL,            -- position in the channel
  direction TEXT NOT NULL,        -- 'served' (this node served the peer) | 'consumed' (a peer served this node)
  issuer TEXT NOT NULL,           -- peer id that served and signed
  subject TEXT NOT NULL,          -- peer id that was served
  request_id TEXT NOT NULL,
  model TEXT NOT NULL,
  time BIGINT NOT NULL,           -- issued at, epoch ms UTC
  cost_micros BIGINT NOT NULL,
  cost_usd DOUBLE GENERATED ALWAYS AS (cost_micros / 1000000.0) VIRTUAL,
  total_micros BIGINT NOT NULL,   -- running total of the channel after this receipt
  acknowledged INTEGER NOT NULL,  -- 1 when the consumer acknowledged it
  disputed TEXT                   -- dispute reason, NULL when not disputed
);
`;
