import cluster from 'node:cluster';
import { parseArgs } from 'node:util';
import { loadConfig } from '../config/index.js';
import { Gateway } from '../gateway/gateway.js';
import type { Config } from '../config/index.js';
import { publicUrl } from '../config/public-url.js';
import { VERSION } from '../version.js';
import type { CliIO } from './main.js';
import { checkWorkersConfig, runWorker, startPrimary, workerCount, type PrimaryNode } from '../workers/index.js';

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
  const loadOptions = { file: values.config, overrides: { host: values.host, port, dataDir: values.data } };
  const { config, source, notes } = await loadConfig(loadOptions);
  // A worker forked by this command's primary (server.workers > 1) serves the pipeline and prints nothing.
  if (cluster.isWorker) return runWorker(config);
  const workers = workerCount(config);
  checkWorkersConfig(config, workers);
  io.out(`meshgate ${VERSION} (config: ${source}; data: ${config.storage.dir})`);
  for (const note of notes) io.out(`note: ${note}`);
  if (config.providers.length === 0) {
    io.out('providers: none configured. Set OPENAI_API_KEY, ANTHROPIC_API_KEY, GEMINI_API_KEY, AZURE_OPENAI_API_KEY + AZURE_OPENAI_ENDPOINT + AZURE_OPENAI_DEPLOYMENT, a named preset\'s variable (GROQ_API_KEY, MISTRAL_API_KEY, OPENROUTER_API_KEY, …, OLLAMA_HOST, VLLM_BASE_URL, …: see the README), or pass --config FILE.');
  } else {
    for (const p of config.providers) {
      const models = p.models ? p.models.join(', ') : 'discovered from the provider';
      io.out(`provider: ${p.id} (${p.type}) → ${p.base_url ? publicUrl(p.base_url) ?? '(invalid URL)' : 'default endpoint'}; models: ${models}`);
    }
  }
  let gateway: Gateway;
  let primary: PrimaryNode | undefined;
  // Set when every worker is gone for good (restart limit reached): the node stops, with exit code 1.
  let abandon: (() => void) | undefined;
  let abandoned = false;
  try {
    // A node that fails to start has already closed what it opened (the data directory's lock included).
    if (workers > 1) {
      primary = await startPrimary(config, workers, { configSource: source, onEmpty: () => {
        abandoned = true;
        abandon?.();
      } });
      gateway = primary.gateway;
    } else {
      gateway = await Gateway.start(config, {
        configSource: source,
        reclaimIdleMemory: true, // this process is the node's own
        // SIGHUP and POST /v1/admin/reload read the same file with the same overrides; without a file there is none.
        reloadConfig: values.config === undefined ? undefined : async () => (await loadConfig(loadOptions)).config,
      });
    }
  } catch (err) {
    const reason = startFailure(err, config);
    if (!reason) throw err;
    io.err(`meshgate: ${reason}`);
    return 1;
  }
  const { adminKeyOrigin, adminKey } = gateway.access;
  if (adminKeyOrigin.generated) {
    io.out(`admin key generated (shown once): ${adminKey.secret.reveal()}`);
    io.out(`  it is saved in ${adminKeyOrigin.file}; read it again with: cat ${adminKeyOrigin.file}`);
  } else if (adminKeyOrigin.file) {
    io.out(`admin key: in ${adminKeyOrigin.file}`);
  }
  io.out(`auth mode: ${config.auth.mode.join(', ')}; gateway id ${adminKey.gatewayId}`);
  if (gateway.mesh) {
    io.out(`mesh: peer id ${gateway.mesh.peerId}, forward=${config.mesh.forward}, max_hops=${config.mesh.max_hops}`);
    for (const address of gateway.mesh.multiaddrs()) io.out(`mesh: listening on ${address}`);
  }
  if (primary) io.out(`workers: ${workers} processes share the port; this primary (pid ${process.pid}) owns the node's state${gateway.mesh ? ' and the mesh' : ''}`);
  io.out(`meshgate listening on ${primary?.url ?? gateway.url}`);

  await new Promise<void>((resolve) => {
    const stop = (signal: string) => {
      io.out(`meshgate: ${signal}, draining in-flight requests (up to ${config.server.shutdown_grace_seconds}s)…`);
      process.off('SIGINT', onInt);
      process.off('SIGTERM', onTerm);
      process.off('SIGHUP', onHup);
      abandon = undefined;
      void (primary ?? gateway).close().then(resolve, (err) => {
        io.err(`meshgate: error during shutdown: ${(err as Error).message}`);
        resolve();
      });
    };
    const onInt = () => stop('SIGINT received');
    const onTerm = () => stop('SIGTERM received');
    // The reload logs what it applied, or why the file was refused (the running config stays either way).
    const onHup = () => void gateway.reload().catch(() => undefined);
    abandon = () => stop('every worker is gone and the restart limit is reached');
    process.on('SIGINT', onInt);
    process.on('SIGTERM', onTerm);
    process.on('SIGHUP', onHup);
  });
  io.out('meshgate stopped');
  return abandoned ? 1 : 0;
}

/** A one-line reason for the start-up failures an operator causes and can fix; undefined for anything else. */
function startFailure(err: unknown, config: Config): string | undefined {
  // LevelDB reports "not open" with the reason (LEVEL_LOCKED, EACCES, …) as its cause: both codes are looked at.
  const e = err as { code?: string; cause?: { code?: string; path?: string }; path?: string };
  const codes = [e.code, e.cause?.code];
  const has = (...wanted: string[]) => wanted.some((code) => codes.includes(code));
  const path = e.path ?? e.cause?.path;
  const dir = config.storage.dir;
  if (has('LEVEL_LOCKED')) return `the data directory ${dir} is in use by another meshgate process (one node per data directory).`;
  if (has('EADDRINUSE')) return `${config.server.host}:${config.server.port} is already in use; choose another port with --port or [server] port.`;
  if (has('EADDRNOTAVAIL')) return `${config.server.host} is not an address of this machine; check --host or [server] host.`;
  if (has('EACCES', 'EPERM')) return `permission denied${path ? ` on ${path}` : ''}: check that the data directory ${dir} is writable${config.server.port < 1024 && config.server.port !== 0 ? ` and that this user may listen on port ${config.server.port}` : ''}.`;
  if (has('ENOTDIR', 'EEXIST')) return `the data directory ${dir} cannot be created or used${path ? ` (${path} is in the way)` : ''}.`;
  return undefined;
}
