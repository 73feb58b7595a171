/**
 * `npm run bench`: every benchmark of the project, printed as plain figures. `--quick` runs shorter rounds.
 * Figures go into the README's Benchmarks section together with this command.
 */
import { runGatewayBenchmark } from './gateway.js';

const sections: Array<[string, () => Promise<string[]>]> = [['gateway core (mock upstream, zero latency)', runGatewayBenchmark]];

console.log(`meshgate benchmarks — node ${process.version}, ${(await import('node:os')).cpus().length} cores`);
for (const [name, run] of sections) {
  console.log(`\n## ${name}`);
  for (const line of await run()) console.log(`  ${line}`);
}
