/**
 * The floor of the gateway benchmarks: the least a Node.js proxy can do for a chat completion — read the body, parse
 * it, send it upstream with undici over keep-alive, parse the answer, write it back; a stream is piped through chunk by
 * chunk. No validation, auth, routing, records or metrics. `npm run bench` measures it next to the gateway to show what
 * this machine allows a proxy. Argument: a JSON object of model → upstream base URL. Prints `proxy listening on URL`.
 */
import { createServer } from 'node:http';
import type { AddressInfo } from 'node:net';
import { Agent, request } from 'undici';

const upstreams = JSON.parse(process.argv[2] ?? 'null') as Record<string, string> | null;
if (!upstreams) throw new Error('usage: minimal-proxy.ts \'{"MODEL":"UPSTREAM_URL"}\'');
const agent = new Agent({ keepAliveTimeout: 30_000, connections: 4096 });

const server = createServer(async (req, res) => {
  const chunks: Buffer[] = [];
  for await (const chunk of req) chunks.push(chunk as Buffer);
  const body = JSON.parse(Buffer.concat(chunks).toString('utf8')) as { model: string; stream?: boolean };
  const answer = await request(`${upstreams[body.model]}/v1/chat/completions`, {
    method: 'POST', dispatcher: agent, headers: { 'content-type': 'application/json', authorization: 'Bearer test-key' }, body: JSON.stringify(body),
  });
  if (body.stream) {
    res.writeHead(answer.statusCode, { 'content-type': 'text/event-stream' });
    for await (const chunk of answer.body) res.write(chunk);
    res.end();
    return;
  }
  const text = await answer.body.text();
  JSON.parse(text);
  res.writeHead(answer.statusCode, { 'content-type': 'application/json', 'content-length': Buffer.byteLength(text) });
  res.end(text);
});
server.listen(0, '127.0.0.1', () => console.log(`proxy listening on http://127.0.0.1:${(server.address() as AddressInfo).port}`));
process.on('SIGTERM', () => server.close(() => process.exit(0)));
