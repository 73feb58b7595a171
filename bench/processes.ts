/**
 * Shared by the benchmarks that run nodes as separate processes (as in production): spawning the mock upstream and
 * `meshgate start`, waiting for their start-up lines, percentiles and resident memory.
 */
import { spawn, type ChildProcess } from 'node:child_process';
import { readFile, writeFile } from 'node:fs/promises';
import { join } from 'node:path';
import { createInterface } from 'node:readline';

export const ROOT = join(import.meta.dirname, '..');

export function percentile(sorted: number[], p: number): number {
  if (sorted.length === 0) return NaN;
  return sorted[Math.min(sorted.length - 1, Math.floor((p / 100) * sorted.length))]!;
}

export const fmt = (n: number) => n.toFixed(3);

/** Resident memory (VmRSS) or its peak so far (VmHWM) of a process, in MB. */
export async function memoryMb(pid: number, field: 'VmRSS' | 'VmHWM'): Promise<number> {
  const status = await readFile(`/proc/${pid}/status`, 'utf8');
  return Number(new RegExp(`${field}:\\s+(\\d+)`).exec(status)![1]) / 1024;
}

/**
 * A process's resident memory split into anonymous pages (the JS heap, malloc) and file-backed ones (mostly the
 * node binary's own code, shared with every other node process), in MB, from /proc/<pid>/smaps_rollup.
 */
export async function residentSplitMb(pid: number): Promise<{ anonymous: number; fileBacked: number }> {
  const rollup = await readFile(`/proc/${pid}/smaps_rollup`, 'utf8');
  const kb = (field: string) => Number(new RegExp(`^${field}:\\s+(\\d+)`, 'm').exec(rollup)?.[1] ?? 0);
  const anonymous = kb('Anonymous') / 1024;
  return { anonymous, fileBacked: kb('Rss') / 1024 - anonymous };
}

/** CPU time (user + system) a process has used so far, in ms, from /proc/<pid>/stat (clock ticks of 10 ms). */
export async function cpuMs(pid: number): Promise<number> {
  const stat = await readFile(`/proc/${pid}/stat`, 'utf8');
  // Fields after the command name (which may hold spaces, so split after its closing parenthesis): utime is the 14th.
  const fields = stat.slice(stat.lastIndexOf(')') + 2).split(' ');
  return (Number(fields[11]) + Number(fields[12])) * 10;
}

/** Collects a child's stdout lines and resolves the first match of each pattern asked for (bounded). */
export class ChildLines {
  private readonly lines: string[] = [];
  private readonly waiters = new Set<() => void>();
  private exited: number | null | undefined;

  constructor(readonly child: ChildProcess) {
    createInterface({ input: child.stdout! }).on('line', (line) => {
      this.lines.push(line);
      for (const wake of this.waiters) wake();
    });
    child.on('exit', (code) => {
      this.exited = code;
      for (const wake of this.waiters) wake();
    });
  }

  wait(pattern: RegExp, timeoutMs = 30_000): Promise<RegExpExecArray> {
    return new Promise((resolve, reject) => {
      const check = () => {
        for (const line of this.lines) {
          const match = pattern.exec(line);
          if (match) return done(() => resolve(match));
        }
        if (this.exited !== undefined) done(() => reject(new Error(`process exited with ${this.exited} before printing ${pattern}`)));
      };
      const timer = setTimeout(() => done(() => reject(new Error(`timed out waiting for ${pattern}`))), timeoutMs);
      const done = (settle: () => void) => {
        clearTimeout(timer);
        this.waiters.delete(check);
        settle();
      };
      this.waiters.add(check);
      check();
    });
  }
}

/** Processes started by a benchmark; `stopAll()` ends them. */
export class Processes {
  private readonly children: ChildProcess[] = [];

  /** The project's mock upstream in its own process; resolves its URL. */
  async mock(): Promise<string> {
    const child = spawn(process.execPath, ['--import', 'tsx', join(ROOT, 'bench/mock-server.ts')], { cwd: ROOT, stdio: ['ignore', 'pipe', 'inherit'] });
    this.children.push(child);
    return (await new ChildLines(child).wait(/^mock listening on (http:\/\/\S+)$/))[1]!;
  }

  /** bench/minimal-proxy.ts in front of `upstream`; resolves its URL. */
  async minimalProxy(upstream: string): Promise<string> {
    const child = spawn(process.execPath, ['--import', 'tsx', join(ROOT, 'bench/minimal-proxy.ts'), upstream], { cwd: ROOT, stdio: ['ignore', 'pipe', 'inherit'] });
    this.children.push(child);
    return (await new ChildLines(child).wait(/^proxy listening on (http:\/\/\S+)$/))[1]!;
  }

  /** `meshgate start` with a config written to `dir`; resolves its URL, pid and output. */
  async node(dir: string, name: string, toml: string): Promise<{ url: string; pid: number; lines: ChildLines }> {
    const config = join(dir, `${name}.toml`);
    await writeFile(config, toml);
    const child = spawn(process.execPath, [join(ROOT, 'bin/meshgate.js'), 'start', '--config', config], { cwd: ROOT, stdio: ['ignore', 'pipe', 'inherit'], env: { ...process.env, LOG_LEVEL: 'warn' } });
    this.children.push(child);
    const lines = new ChildLines(child);
    const url = (await lines.wait(/^meshgate listening on (http:\/\/\S+)$/))[1]!;
    return { url, pid: child.pid!, lines };
  }

  stopAll(): void {
    for (const child of this.children) child.kill('SIGTERM');
  }
}
