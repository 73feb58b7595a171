/**
 * `npm run bench`: every benchmark of the project, printed as plain figures. `--quick` runs shorter rounds;
 * `--only=WORD` runs the sections whose name contains WORD (e.g. `npm run bench -- --only=http`).
 * Figures go into the README's Benchmarks section together with this command. A new benchmark is one entry below.
 */
import { runAccessBenchmark } from './access.js';
import { runAnalyticsBenchmark } from './analytics.js';
import { runGatewayBenchmark } from './gateway.js';
import { runMeshBenchmark } from './mesh.js';
import { runRoutingBenchmark } from './routing.js';
import { runSanitizeBenchmark } from './sanitize.js';
import { runStateBenchmark } from './state.js';
import { runUsageBenchmark } from './usage.js';
import { runWorkersBenchmark } from './workers.js';

const sections: Array<[string, () => Promise<string[]> | string[]]> = [
  ['http hot path: the box (direct, minimal proxy), then meshgate and Portkey, same run', runGatewayBenchmark],
  ['access control: token verification + quota reservation per request', runAccessBenchmark],
  ['shared state: Redis backend vs embedded LevelDB (reservation cost, node request rate)', runStateBenchmark],
  ['routing engine: planning one request (candidates → filter → score → rank → plan)', runRoutingBenchmark],
  ['prompt sanitization (credentials + PII; credentials only), by prompt size', runSanitizeBenchmark],
  ['mesh: forwarding, discovery, receipts', () => runMeshBenchmark(process.argv.includes('--quick'))],
  ['analytics: SQL over usage records (index rebuild, group-by through the query process)', () => runAnalyticsBenchmark(process.argv.includes('--quick'))],
  ['portal overview over the usage buckets (1M records; 100k with --quick)', runUsageBenchmark],
  ['server.workers: request rate with 1 and 2 worker processes', runWorkersBenchmark],
];

const only = process.argv.find((arg) => arg.startsWith('--only='))?.slice('--only='.length);
console.log(`meshgate benchmarks — node ${process.version}, ${(await import('node:os')).cpus().length} cores`);
for (const [name, run] of sections) {
  if (only && !name.includes(only)) continue;
  console.log(`\n## ${name}`);
  for (const line of await run()) console.log(`  ${line}`);
}
