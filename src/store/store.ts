import { Level } from 'level';
import { mkdir } from 'node:fs/promises';

/**
 * The only module that touches LevelDB. Each owner gets a namespaced sublevel (`quota`, `token`, `record`,
 * `receipt`, ...) with JSON values; multi-key updates go through `batch` so they are atomic.
 */

/**
 * One operation of a batch in its stored form: the key with its sublevel's `prefix` (`!name!`) before it, the value as the
 * sublevel's json encoding writes it (`JSON.stringify`) — what abstract-level's `batch` makes of a sublevel
 * operation, so `writeEncoded` stores the same bytes and every reader of the sublevels reads them alike.
 */
export type EncodedOperation = { type: 'put'; key: string; value: string } | { type: 'del'; key: string };

/** A sublevel operation as `db.batch` takes it (values json-encoded by the sublevels `Store.sublevel` makes). */
export type SublevelOperation =
  | { type: 'put'; sublevel: { readonly prefix: string }; key: string; value: unknown }
  | { type: 'del'; sublevel: { readonly prefix: string }; key: string };

/** classic-level's own write of a prepared batch (abstract-level's private API, which its public `batch` ends in). */
type PreparedBatchWrite = (operations: EncodedOperation[], options: object) => Promise<void>;

const NO_OPTIONS = Object.freeze({});
const UTF8 = Object.freeze({ keyEncoding: 'utf8', valueEncoding: 'utf8' });

/** A key after every key of the store (each begins with a sublevel's `!`). */
const PAST_EVERY_KEY = '\u00ff';

interface Compacting {
  compactRange(start: string, end: string): Promise<void>;
}

export class Store {
  readonly dir: string;
  readonly db: Level<string, unknown>;
  readonly #writePrepared?: PreparedBatchWrite;

  private constructor(dir: string, db: Level<string, unknown>) {
    this.dir = dir;
    this.db = db;
    const write = (db as unknown as { _batch?: PreparedBatchWrite })._batch;
    this.#writePrepared = typeof write === 'function' ? write.bind(db) : undefined;
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
   * Writes one atomic batch of operations already in their stored form (`EncodedOperation`). The records'
   * group commit writes one such batch per request at one connection: abstract-level's `batch` would clone every
   * operation, look up its encodings, encode and prefix its key and value again and add two async frames, for the
   * bytes this writes as they are (about 40% of a batch's instructions, LevelDB's own work included). Its checks that
   * matter here stay: a store not open (still opening, or closed) goes through `batch`, which waits for the opening or
   * refuses as it does for every write. It skips abstract-level's prewrite hooks and `write` events, which this
   * store's owners never use.
   */
  writeEncoded(operations: EncodedOperation[]): Promise<void> {
    if (this.#writePrepared === undefined || this.db.status !== 'open') return this.db.batch(operations as never, UTF8 as never);
    return this.#writePrepared(operations, NO_OPTIONS);
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

/** A sublevel operation in its stored form (for `writeEncoded`), for the json-valued sublevels of `Store.sublevel`. */
export function encodeOperation(operation: SublevelOperation): EncodedOperation {
  const key = operation.sublevel.prefix + operation.key;
  return operation.type === 'put' ? { type: 'put', key, value: JSON.stringify(operation.value) } : { type: 'del', key };
}
