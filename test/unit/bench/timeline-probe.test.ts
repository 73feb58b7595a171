import { spawn } from 'node:child_process';
import { once } from 'node:events';
import { existsSync } from 'node:fs';
import { mkdtemp, readFile, rm } from 'node:fs/promises';
import { createServer, type Server } from 'node:http';
import type { AddressInfo } from 'node:net';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { createInterface } from 'node:readline';
import { Agent, request } from 'undici';
import { afterAll, describe, expect, it, vi } from 'vitest';
import { PROBE, requestsOf, type ProbeDump } from '../../../bench/timeline-marks.js';

const ROOT = join(import.meta.dirname, '../../..');

/**
 * bench/timeline-probe.mjs preloaded into bench/minimal-proxy.ts in front of a local upstream: every request's marks
 * come from the diagnostics channels of this Node and undici (a renamed channel would leave a step out), in the order
 * of the exchange, on the clock the client reads.
 */
describe('the timeline probe', async () => {
  const dir = await mkdtemp(join(tmpdir(), 'meshgate-timeline-'));
  const out = join(dir, 'marks.json');
  const upstream: Server = createServer((req, res) => {
    req.resume();
    req.on('end', () => {
      const body = JSON.stringify({ id: 'x', choices: [], usage: { prompt_tokens: 1, completion_tokens: 1 } });
      res.writeHead(200, { 'content-type': 'application/json', 'content-length': Buffer.byteLength(body) }).end(body);
    });
  });
  upstream.listen(0, '127.0.0.1');
  await once(upstream, 'listening');
  const upstreamUrl = `http://127.0.0.1:${(upstream.address() as AddressInfo).port}`;
  const proxy = spawn(process.execPath, ['--import', 'tsx', '--import', PROBE, join(ROOT, 'bench/minimal-proxy.ts'), JSON.stringify({ m: upstreamUrl })], {
    cwd: ROOT, stdio: ['ignore', 'pipe', 'inherit'], env: { ...process.env, TIMELINE_OUT: out },
  });
  const agent = new Agent({ connections: 1 });
  afterAll(async () => {
    proxy.kill('SIGKILL');
    await agent.close();
    upstream.close();
    await rm(dir, { recursive: true, force: true });
  });
  const url = await new Promise<string>((resolve, reject) => {
    createInterface({ input: proxy.stdout! }).on('line', (line) => {
      const match = /^proxy listening on (\S+)$/.exec(line);
      if (match) resolve(match[1]!);
    });
    proxy.once('exit', (code) => reject(new Error(`the proxy exited with ${code}`)));
  });

  it('stamps each request from its parsed head to its answer, with the upstream exchange between', async () => {
    const sent: number[] = [];
    const ended: number[] = [];
    for (let i = 0; i < 3; i++) {
      sent.push(Number(process.hrtime.bigint()));
      const res = await request(`${url}/v1/chat/completions`, { method: 'POST', body: JSON.stringify({ model: 'm', messages: [] }), dispatcher: agent });
      await res.body.text();
      ended.push(Number(process.hrtime.bigint()));
      expect(res.statusCode).toBe(200);
    }
    proxy.kill('SIGUSR2');
    await vi.waitFor(() => expect(existsSync(out)).toBe(true), { timeout: 10_000, interval: 20 });
    const requests = requestsOf(JSON.parse(await readFile(out, 'utf8')) as ProbeDump);
    expect(requests).toHaveLength(3);
    for (const [i, marks] of requests.entries()) {
      const names = marks.map(([name]) => name);
      const at = (name: string) => names.indexOf(name);
      // Each step once, in the exchange's order (a step missing reads -1 and fails the order).
      const order = ['request', 'upstream.create', 'upstream.headersSent', 'write.upstream', 'upstream.head', 'upstream.chunk1', 'upstream.end', 'write.client', 'response.finish'];
      expect(order.map(at).every((index, k) => index >= 0 && (k === 0 || index > at(order[k - 1]!)))).toBe(true);
      // On the client's clock: after its send, the answer written before the client had it whole.
      expect(marks[0]![1]).toBeGreaterThan(sent[i]!);
      expect(marks[at('write.client')]![1]).toBeLessThan(ended[i]!);
    }
  });
});
