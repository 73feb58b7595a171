/**
 * Load generators of the HTTP benchmarks, both official-SDK-free:
 * - `sequential`: one connection, undici `fetch`, one request after the other (latency, time to first token, the gaps
 *   between streamed chunks);
 * - `closedLoop`: what autocannon does — N keep-alive sockets, each sending the same pre-encoded request again as soon
 *   as the previous answer is complete — on raw `node:net` sockets with a minimal HTTP/1.1 response reader, so the
 *   load generator spends as little of the shared cores as it can (undici's full client would cost about as much
 *   CPU per request as the proxies it measures).
 */
import { connect, type Socket } from 'node:net';
import { Agent, fetch } from 'undici';

export interface HttpTarget {
  name: string;
  url: string;
  path: string;
  headers: Record<string, string>;
}

/** One keep-alive connection, for the sequential measurements. */
export const oneConnection = () => new Agent({ connections: 1, keepAliveTimeout: 30_000, pipelining: 1 });

async function post(target: HttpTarget, body: string, dispatcher: Agent) {
  const res = await fetch(`${target.url}${target.path}`, { method: 'POST', headers: { 'content-type': 'application/json', ...target.headers }, body, dispatcher });
  if (res.status !== 200) throw new Error(`${target.name}: status ${res.status}: ${(await res.text()).slice(0, 300)}`);
  return res;
}

/** `count` requests one after the other; total time of each in ms. */
export async function sequential(target: HttpTarget, body: string, count: number, dispatcher: Agent): Promise<number[]> {
  const times: number[] = [];
  for (let i = 0; i < count; i++) {
    const started = performance.now();
    await (await post(target, body, dispatcher)).arrayBuffer();
    times.push(performance.now() - started);
  }
  return times;
}

/** One streamed request: ms to the first chunk carrying an SSE `data:` line, and the ms between consecutive chunks. */
export async function streamTimes(target: HttpTarget, body: string, dispatcher: Agent): Promise<{ ttft: number; gaps: number[] }> {
  const started = performance.now();
  const res = await post(target, body, dispatcher);
  const decoder = new TextDecoder();
  let ttft = NaN;
  let last = NaN;
  const gaps: number[] = [];
  for await (const chunk of res.body!) {
    const now = performance.now();
    if (!decoder.decode(chunk as Uint8Array, { stream: true }).includes('data:')) continue;
    if (Number.isNaN(ttft)) ttft = now - started;
    else gaps.push(now - last);
    last = now;
  }
  return { ttft, gaps };
}

export interface LoadResult {
  /** Answers with status 200. */
  ok: number;
  /** Answers with another status, or connections that failed. */
  errors: number;
  seconds: number;
  /** Latency of every answer, ms. */
  latencies: number[];
}

const CRLF2 = Buffer.from('\r\n\r\n');

/** Reads HTTP/1.1 responses off one socket: resolves each one's status once its whole body is in. */
class ResponseReader {
  private buffer: Buffer = Buffer.alloc(0);
  private waiting: ((status: number) => void) | undefined;
  private failed: ((err: Error) => void) | undefined;

  constructor(socket: Socket) {
    socket.on('data', (data: Buffer) => {
      this.buffer = this.buffer.length === 0 ? data : Buffer.concat([this.buffer, data]);
      this.parse();
    });
    const fail = (err: Error) => this.failed?.(err);
    socket.on('error', fail);
    socket.on('close', () => fail(new Error('connection closed')));
  }

  next(): Promise<number> {
    return new Promise((resolve, reject) => {
      this.waiting = resolve;
      this.failed = reject;
      this.parse();
    });
  }

  private parse(): void {
    if (!this.waiting) return;
    const headEnd = this.buffer.indexOf(CRLF2);
    if (headEnd < 0) return;
    const head = this.buffer.subarray(0, headEnd).toString('latin1');
    const status = Number(head.slice(9, 12));
    let end: number;
    const length = /\r\ncontent-length:\s*(\d+)/i.exec(head);
    if (length) {
      end = headEnd + 4 + Number(length[1]);
      if (this.buffer.length < end) return;
    } else if (/\r\ntransfer-encoding:\s*chunked/i.test(head)) {
      let at = headEnd + 4;
      for (;;) {
        const lineEnd = this.buffer.indexOf('\r\n', at);
        if (lineEnd < 0) return;
        const size = parseInt(this.buffer.subarray(at, lineEnd).toString('latin1'), 16);
        at = lineEnd + 2 + size + 2;
        if (this.buffer.length < at) return;
        if (size === 0) break;
      }
      end = at;
    } else {
      throw new Error(`response without a length: ${head.slice(0, 200)}`);
    }
    this.buffer = this.buffer.subarray(end);
    const resolve = this.waiting;
    this.waiting = undefined;
    resolve(status);
  }
}

/**
 * `connections` sockets sending `body` back to back for `durationMs` (each finishes the request it has in flight).
 * A connection the server closes is opened again.
 */
export async function closedLoop(target: HttpTarget, body: string, connections: number, durationMs: number): Promise<LoadResult> {
  const url = new URL(target.url);
  const payload = Buffer.from(body);
  const head = [
    `POST ${target.path} HTTP/1.1`, `host: ${url.host}`, 'connection: keep-alive', 'content-type: application/json',
    `content-length: ${payload.length}`, ...Object.entries(target.headers).map(([k, v]) => `${k}: ${v}`), '', '',
  ].join('\r\n');
  const request = Buffer.concat([Buffer.from(head), payload]);
  const result: LoadResult = { ok: 0, errors: 0, seconds: 0, latencies: [] };
  const started = performance.now();
  const deadline = started + durationMs;
  const open = () => new Promise<{ socket: Socket; reader: ResponseReader }>((resolve, reject) => {
    const socket = connect({ host: url.hostname, port: Number(url.port), noDelay: true });
    socket.once('connect', () => resolve({ socket, reader: new ResponseReader(socket) }));
    socket.once('error', reject);
  });
  await Promise.all(Array.from({ length: connections }, async () => {
    let connection = await open();
    while (performance.now() < deadline) {
      const sent = performance.now();
      connection.socket.write(request);
      try {
        const status = await connection.reader.next();
        result.latencies.push(performance.now() - sent);
        if (status === 200) result.ok += 1;
        else result.errors += 1;
      } catch {
        result.errors += 1;
        connection.socket.destroy();
        connection = await open();
      }
    }
    connection.socket.destroy();
  }));
  result.seconds = (performance.now() - started) / 1000;
  result.latencies.sort((a, b) => a - b);
  return result;
}
