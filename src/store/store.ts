import { Level } from 'level';
import { mkdir } from 'node:fs/promises';

/**
 * The only module that touches LevelDB. Each owner gets a namespaced sublevel (`quota`, `token`, `record`,
 * `receipt`, ...) with JSON values; multi-key updates go through `batch` so they are atomic.
 */

/** A key after every key of the store (each begins with a sublevel's `!`). */
const PAST_EVERY_KEY = '\u00ff';

interface Compacting {
  compactRange(start: string, end: string): Promise<void>;
}

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

  /**
   * Writes LevelDB's in-memory table (the writes since its last table file: up to its 4 MB write buffer, in native
   * memory) out to a table file, so an idle node gives that memory back. It is LevelDB's compaction of a key range
   * no key is in (every key is a sublevel's, `!name!…`): the in-memory table is written out first, and no table file
   * holds a key of that range, so nothing else is rewritten. Durability is unchanged (the log already holds every
   * write); the next write starts a new in-memory table and log.
   */
  async flushMemtable(): Promise<void> {
    // `level` in Node is classic-level (its export is classic-level's class), whose compactRange level's type leaves out.
    if (this.db.status === 'open') await (this.db as unknown as Compacting).compactRange(PAST_EVERY_KEY, PAST_EVERY_KEY);
  }

  async close(): Promise<void> {
    if (this.db.status === 'open' || this.db.status === 'opening') await this.db.close();
  }
}
