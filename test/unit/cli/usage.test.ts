import { describe, expect, it } from 'vitest';
import { main } from '../../../src/cli/main.js';

function capture() {
  const out: string[] = [];
  const err: string[] = [];
  return { out, err, io: { out: (line: string) => out.push(line), err: (line: string) => err.push(line) } };
}

describe('meshgate --help', () => {
  it('names only token subcommands that exist', async () => {
    const help = capture();
    expect(await main(['--help'], help.io)).toBe(0);
    const line = help.out.join('\n').split('\n').find((l) => l.trim().startsWith('meshgate token '));
    const subcommands = /meshgate token ([\w|-]+)/.exec(line ?? '')?.[1]?.split('|') ?? [];
    expect(subcommands.length).toBeGreaterThan(0);
    for (const sub of subcommands) {
      const run = capture();
      await main(['token', sub, '--no-such-option'], run.io);
      expect(run.err.join('\n'), `meshgate token ${sub}`).not.toMatch(/unknown subcommand/);
    }
  });
});
