import { Level } from 'level';
import { mkdir } from 'node:fs/promises';

/**
 * The only module that touches LevelDB. Each owner gets a namespaced sublevel (`quota`, `token`, `record`,
 * `receipt`, ...) with JSON values; multi-key updates go through `batch` so they are atomic.
 */

export class Store {
  readonly dir: string;
  readonly db: Level<string, unknown>;

  private constructor(dir: string, db: Level<string, unknown>) {
    this.dir = dir;
    this.db = db;
  }

  static async open(dir: string): Promise<Store> {
    await mkdir(dir, { recursive: true });
    const db = new Level<string, unknown>(`${dir}/leveldb`, { valueEncoding: 'json' });
    await db.open();
    return new Store(dir, db);
  }

  /** A JSON-valued namespace; keys inside it sort lexicographically. */
  sublevel<V>(name: string) {
    return this.db.sublevel<string, V>(name, { valueEncoding: 'json' });
  }

  async close(): Promise<void> {
    if (this.db.status === 'open' || this.db.status === 'opening') await this.db.close();
  }
}
