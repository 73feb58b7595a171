import { spawn } from 'node:child_process';
import { once } from 'node:events';
import { fileURLToPath } from 'node:url';
import { afterEach, describe, expect, it, vi } from 'vitest';
import { BatchedDestination, MAX_BATCH_BYTES, type LineSink } from '../../../src/logging/batched-destination.js';

const CHILD = fileURLToPath(new URL('./logging-child.ts', import.meta.url));

function recordingSink(): LineSink & { writes: string[] } {
  const writes: string[] = [];
  return { writes, fd: -1, write: (chunk: string) => writes.push(chunk), flushSync: () => undefined };
}

afterEach(() => {
  vi.useRealTimers();
});

describe('BatchedDestination', () => {
  it('writes the lines logged within the flush window in one write, once the window ends', () => {
    vi.useFakeTimers();
    const sink = recordingSink();
    const destination = new BatchedDestination(sink, 50);
    destination.write('{"a":1}\n');
    destination.write('{"a":2}\n');
    destination.write('{"a":3}\n');
    expect(sink.writes).toEqual([]);
    vi.advanceTimersByTime(50);
    expect(sink.writes).toEqual(['{"a":1}\n{"a":2}\n{"a":3}\n']);
    destination.write('{"a":4}\n');
    vi.advanceTimersByTime(50);
    expect(sink.writes).toEqual(['{"a":1}\n{"a":2}\n{"a":3}\n', '{"a":4}\n']);
  });

  it('never makes a batch larger than PIPE_BUF bytes (multi-byte characters counted as bytes), and writes on flush()', () => {
    vi.useFakeTimers();
    const sink = recordingSink();
    const destination = new BatchedDestination(sink, 50);
    const line = `${'x'.repeat(1023)}\n`;
    for (let i = 0; i < MAX_BATCH_BYTES / line.length; i++) destination.write(line);
    expect(sink.writes).toEqual([]);
    destination.write('{"next":true}\n');
    expect(sink.writes).toHaveLength(1);
    expect(Buffer.byteLength(sink.writes[0]!)).toBe(MAX_BATCH_BYTES);
    destination.flush();
    expect(sink.writes[1]).toBe('{"next":true}\n');

    // 1,500 characters of two bytes each: two such lines are 6 KB, so they go out as two writes.
    const wide = `${'é'.repeat(1500)}\n`;
    destination.write(wide);
    destination.write(wide);
    vi.advanceTimersByTime(50);
    expect(sink.writes.slice(2)).toEqual([wide, wide]);
  });

  it.each(['exit', 'throw'])('loses no line still pending when the process ends (%s)', async (how) => {
    const child = spawn(process.execPath, ['--import', 'tsx', CHILD, how], { stdio: ['ignore', 'ignore', 'pipe'] });
    let stderr = '';
    child.stderr.setEncoding('utf8');
    child.stderr.on('data', (chunk: string) => (stderr += chunk));
    const [code] = await once(child, 'exit');
    expect(code).toBe(how === 'exit' ? 0 : 3);
    const lines = stderr.trim().split('\n').map((line) => JSON.parse(line) as { n: number; msg: string });
    expect(lines.map((line) => line.n)).toEqual([0, 1, 2, 3, 4]);
  }, 30_000);

  it('writes a warning, and the lines before it, at once: they arrive while the process cannot run a timer', async () => {
    const child = spawn(process.execPath, ['--import', 'tsx', CHILD, 'warn'], { stdio: ['ignore', 'ignore', 'pipe'] });
    try {
      let stderr = '';
      child.stderr.setEncoding('utf8');
      child.stderr.on('data', (chunk: string) => (stderr += chunk));
      // The child's event loop is blocked after the warning, so only a write started by the warning itself gets here.
      await vi.waitFor(() => expect(stderr).toContain('the warning'), { timeout: 20_000, interval: 50 });
      expect(stderr.trim().split('\n').map((line) => (JSON.parse(line) as { n: number }).n)).toEqual([0, 1, 2]);
    } finally {
      child.kill('SIGKILL');
    }
  }, 30_000);
});
