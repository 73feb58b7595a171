import { parseArgs } from 'node:util';
import { runTokenCommand } from '../auth/index.js';
import { ConfigError, loadConfig } from '../config/index.js';
import { runReceiptsCommand } from '../ledger/receipts-command.js';
import { VERSION } from '../version.js';
import { startCommand } from './start.js';

const USAGE = `meshgate ${VERSION} — LLM gateway and peer-to-peer mesh node

Usage:
  meshgate start [--config FILE] [--host HOST] [--port PORT] [--data DIR]
      Start a node. Without --config it serves 127.0.0.1:8930 with ./data and the providers found in
      OPENAI_API_KEY, ANTHROPIC_API_KEY, GEMINI_API_KEY, AZURE_OPENAI_API_KEY + AZURE_OPENAI_ENDPOINT +
      AZURE_OPENAI_DEPLOYMENT, and every named preset's variable (GROQ_API_KEY, MISTRAL_API_KEY, …, OLLAMA_HOST,
      VLLM_BASE_URL, …).
  meshgate token create|verify|public-key …
      Mint and verify access tokens offline from the admin key (see \`meshgate token --help\`; a node lists the
      tokens it knows at GET /v1/admin/tokens).
  meshgate receipts verify FILE
      Check an exported set of mesh usage receipts offline and print totals per channel.
  meshgate config check --config FILE
      Validate a config file and print what it configures.
  meshgate --version | --help
`;

export interface CliIO {
  out: (line: string) => void;
  err: (line: string) => void;
}

const defaultIO: CliIO = { out: (line) => console.log(line), err: (line) => console.error(line) };

export async function main(argv: string[], io: CliIO = defaultIO): Promise<number> {
  const [command, ...rest] = argv;
  try {
    switch (command) {
      case 'start':
        return await startCommand(rest, io);
      case 'token':
        return await runTokenCommand(rest, io);
      case 'receipts':
        return await runReceiptsCommand(rest, io);
      case 'config': {
        const { values } = parseArgs({ args: rest.slice(1), options: { config: { type: 'string' } }, strict: true });
        if (rest[0] !== 'check' || !values.config) throw new UsageError('usage: meshgate config check --config FILE');
        const { config } = await loadConfig({ file: values.config });
        io.out(`${values.config}: valid (${config.providers.length} provider(s): ${config.providers.map((p) => `${p.id}/${p.type}`).join(', ') || 'none'})`);
        return 0;
      }
      case '--version':
      case '-v':
        io.out(VERSION);
        return 0;
      case undefined:
      case '--help':
      case '-h':
      case 'help':
        io.out(USAGE);
        return command === undefined ? 1 : 0;
      default:
        throw new UsageError(`unknown command '${command}'`);
    }
  } catch (err) {
    if (err instanceof ConfigError) {
      io.err(err.message);
      return 2;
    }
    if (err instanceof UsageError || (err as { code?: string }).code?.startsWith('ERR_PARSE_ARGS')) {
      io.err(`meshgate: ${(err as Error).message}\n\n${USAGE}`);
      return 2;
    }
    throw err;
  }
}

export class UsageError extends Error {}
