import { parseArgs } from 'node:util';
import { loadConfig } from '../config/index.js';
import { Gateway } from '../gateway/gateway.js';
import { VERSION } from '../version.js';
import type { CliIO } from './main.js';

/** `meshgate start`: load config, start the node, print what it serves, and shut down cleanly on SIGINT/SIGTERM. */
export async function startCommand(argv: string[], io: CliIO): Promise<number> {
  const { values } = parseArgs({
    args: argv,
    options: { config: { type: 'string', short: 'c' }, host: { type: 'string' }, port: { type: 'string', short: 'p' }, data: { type: 'string' } },
    strict: true,
  });
  const port = values.port === undefined ? undefined : Number(values.port);
  if (port !== undefined && (!Number.isInteger(port) || port < 0 || port > 65535)) {
    io.err(`meshgate: --port must be an integer from 0 to 65535 (got '${values.port}')`);
    return 2;
  }
  const { config, source } = await loadConfig({ file: values.config, overrides: { host: values.host, port, dataDir: values.data } });
  io.out(`meshgate ${VERSION} (config: ${source}; data: ${config.storage.dir})`);
  if (config.providers.length === 0) {
    io.out('providers: none configured. Set OPENAI_API_KEY, ANTHROPIC_API_KEY, GEMINI_API_KEY, AZURE_OPENAI_API_KEY + AZURE_OPENAI_ENDPOINT or OLLAMA_HOST, or pass --config FILE.');
  } else {
    for (const p of config.providers) {
      const models = p.models ? p.models.join(', ') : 'discovered from the provider';
      io.out(`provider: ${p.id} (${p.type}) → ${p.base_url ?? 'default endpoint'}; models: ${models}`);
    }
  }
  const gateway = new Gateway(config);
  const url = await gateway.start();
  const { adminKeyOrigin, adminKey } = gateway.access;
  if (adminKeyOrigin.generated) {
    io.out(`admin key generated (shown once): ${adminKey.secret.reveal()}`);
    io.out(`  it is saved in ${adminKeyOrigin.file}; read it again with: cat ${adminKeyOrigin.file}`);
  }
  io.out(`auth mode: ${config.auth.mode.join(', ')}; gateway id ${adminKey.gatewayId}`);
  if (gateway.mesh) {
    io.out(`mesh: peer id ${gateway.mesh.peerId}, forward=${config.mesh.forward}, max_hops=${config.mesh.max_hops}`);
    for (const address of gateway.mesh.multiaddrs()) io.out(`mesh: listening on ${address}`);
  }
  io.out(`meshgate listening on ${url}`);

  await new Promise<void>((resolve) => {
    const stop = (signal: string) => {
      io.out(`meshgate: ${signal} received, draining in-flight requests (up to ${config.server.shutdown_grace_seconds}s)…`);
      process.off('SIGINT', onInt);
      process.off('SIGTERM', onTerm);
      void gateway.close().then(resolve, (err) => {
        io.err(`meshgate: error during shutdown: ${(err as Error).message}`);
        resolve();
      });
    };
    const onInt = () => stop('SIGINT');
    const onTerm = () => stop('SIGTERM');
    process.on('SIGINT', onInt);
    process.on('SIGTERM', onTerm);
  });
  io.out('meshgate stopped');
  return 0;
}
