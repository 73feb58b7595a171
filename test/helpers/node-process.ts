import { spawn, type ChildProcess } from 'node:child_process';
import { writeFile } from 'node:fs/promises';
import { join } from 'node:path';
import { createInterface } from 'node:readline';
import { RecordStore } from '../../src/records/index.js';
import { Store } from '../../src/store/index.js';
import type { MockUpstream } from '../mock/index.js';

const BIN = join(import.meta.dirname, '../../bin/meshgate.js');
/** Longest wait for a node process to say it is listening. */
export const STARTUP_TIMEOUT_MS = 90_000;
/** Timeout for a test that starts node processes (start-up included). */
export const PROCESS_TEST_TIMEOUT_MS = 180_000;

export interface NodeProcess {
  child: ChildProcess;
  url: string;
  /** The config file the node was started with (rewrite it, then SIGHUP, to reload). */
  configFile: string;
  /** stdout lines and the `msg` of every JSON log line on stderr, as they arrive. */
  stdout: string[];
  logs: Array<Record<string, unknown> & { msg?: string }>;
  /** Exit code (null when killed by a signal). */
  exited: Promise<number | null>;
  /** Resolves with the first log line `match` accepts; rejects after `timeoutMs` or if the process exits first. */
  waitForLog(match: (line: Record<string, unknown> & { msg?: string }) => boolean, timeoutMs?: number): Promise<Record<string, unknown>>;
}

/**
 * `meshgate start` in its own process (so it can be signalled and killed), with the mock as its only provider of
 * gpt-4o and its data in `<dir>/data` (with `mesh`, a libp2p node on loopback too). Resolves once the node prints that it is listening.
 */
export async function startNodeProcess(mock: MockUpstream, dir: string, options: { graceSeconds?: number; logLevel?: string; mesh?: boolean; config?: string[] } = {}): Promise<NodeProcess> {
  const config = join(dir, 'node.toml');
  await writeFile(config, [
    '[server]', 'host = "127.0.0.1"', 'port = 0', `shutdown_grace_seconds = ${options.graceSeconds ?? 10}`,
    '[storage]', `dir = "${join(dir, 'data')}"`,
    ...(options.mesh ? ['[mesh]', 'enabled = true', 'listen = ["/ip4/127.0.0.1/tcp/0"]'] : []),
    // Further tables (`[auth]`, `[state]`, …) as TOML lines.
    ...(options.config ?? []),
    '[[providers]]', 'id = "mock"', 'type = "openai"', `base_url = "${mock.openaiBaseUrl}"`, 'api_key = "test-key"', 'models = ["gpt-4o"]', '',
  ].join('\n'));
  const child = spawn(process.execPath, [BIN, 'start', '--config', config], {
    env: { PATH: process.env.PATH ?? '', LOG_LEVEL: options.logLevel ?? 'info' },
    stdio: ['ignore', 'pipe', 'pipe'],
  });
  const stdout: string[] = [];
  const logs: NodeProcess['logs'] = [];
  const watchers = new Set<() => void>();
  const exited = new Promise<number | null>((resolve) => child.on('exit', (code) => {
    resolve(code);
    for (const wake of watchers) wake();
  }));
  let exitedYet = false;
  void exited.then(() => (exitedYet = true));
  createInterface({ input: child.stdout! }).on('line', (line) => {
    stdout.push(line);
    for (const wake of watchers) wake();
  });
  createInterface({ input: child.stderr! }).on('line', (line) => {
    try {
      logs.push(JSON.parse(line) as NodeProcess['logs'][number]);
    } catch {
      logs.push({ msg: line });
    }
    for (const wake of watchers) wake();
  });
  const waitFor = <T>(find: () => T | undefined, what: string, timeoutMs: number) =>
    new Promise<T>((resolve, reject) => {
      const check = () => {
        const found = find();
        if (found === undefined && !exitedYet) return;
        clearTimeout(timer);
        watchers.delete(check);
        if (found === undefined) reject(new Error(`node exited before ${what} (stderr: ${logs.map((l) => l.msg).join(' | ')})`));
        else resolve(found);
      };
      const timer = setTimeout(() => {
        watchers.delete(check);
        reject(new Error(`no ${what} within ${timeoutMs} ms`));
      }, timeoutMs);
      watchers.add(check);
      check();
    });
  // Generous: on a loaded machine a node started from the sources (tsx) can take tens of seconds; it is an event wait.
  const listening = await waitFor(() => stdout.find((l) => l.startsWith('meshgate listening on ')), 'listening line', STARTUP_TIMEOUT_MS);
  return {
    child, stdout, logs, exited, configFile: config,
    url: listening.slice('meshgate listening on '.length),
    waitForLog: (match, timeoutMs = 10_000) => waitFor(() => logs.find(match), 'matching log line', timeoutMs),
  };
}

/** The ids of the usage records in `<dir>/data` (the node that wrote them must have exited). */
export async function recordedIds(dir: string): Promise<Set<string>> {
  const store = await Store.open(join(dir, 'data'));
  try {
    const records = await RecordStore.open(store, { retentionDays: 0, flushIntervalMs: 0 });
    const ids = new Set<string>();
    for await (const [, record] of records.scan({})) ids.add(record.id);
    await records.close();
    return ids;
  } finally {
    await store.close();
  }
}
