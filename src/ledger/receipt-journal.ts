import { closeSync, openSync, writeSync } from 'node:fs';
import { mkdir, readFile, readdir, rm } from 'node:fs/promises';
import { join } from 'node:path';

/** The journal's folder in a node's storage directory. */
export const RECEIPT_JOURNAL_DIR = 'receipt-journal';

/** A journal file: `<generation>.log`, one compact JWS per line. */
const FILE = /^(\d{1,15})\.log$/;

/**
 * The receipts an issuer signed that may not be in its LevelDB store yet (protocol/receipts.md, "Transport"): each is
 * appended with one synchronous `write` before the trailer that carries it leaves, so the store's own write can wait
 * for the ledger's next batch. A `write` reaches the operating system as LevelDB's unsynced log write does, so the
 * journal survives what that write survived (the process dying), and neither survives a power loss.
 *
 * Files are generations: `seal()` ends the current one (the next append opens the next), and once the ledger's batch
 * holding everything appended up to a seal is in LevelDB, `release()` deletes the generations up to it. What is left
 * at start (a crash before the batch) is read back by `pending()` and replayed into the store by the ledger.
 */
export class ReceiptJournal {
  #generation: number;
  #fd: number | undefined;
  /** Entries in the current generation (a seal of an empty one is a no-op). */
  #entries = 0;
  /** The newest generation of this run that was sealed, and the newest one deleted. */
  #sealed: number | undefined;
  #released: number;

  private constructor(
    readonly dir: string,
    /** Generations found at start, oldest first, until `release()` takes them. */
    private readonly found: number[],
  ) {
    this.#generation = (found.at(-1) ?? 0) + 1;
    this.#released = this.#generation - 1;
  }

  static async open(dir: string): Promise<ReceiptJournal> {
    await mkdir(dir, { recursive: true });
    const found = (await readdir(dir)).flatMap((name) => {
      const match = FILE.exec(name);
      return match ? [Number(match[1])] : [];
    });
    return new ReceiptJournal(dir, found.sort((a, b) => a - b));
  }

  /** The receipts journaled before this start and not released, in the order they were appended. */
  async pending(): Promise<string[]> {
    const out: string[] = [];
    for (const generation of this.found) {
      const text = await readFile(this.#path(generation), 'utf8');
      // A line cut short (the machine stopped inside the write) is no receipt: only whole lines count.
      const lines = text.split('\n');
      lines.pop();
      for (const line of lines) if (line) out.push(line);
    }
    return out;
  }

  /**
   * Appends one receipt (its compact JWS, which holds no newline); throws when the write fails. A failed or short
   * write ends the generation, so that what it left of a line is the end of its file (`pending()` skips it) and
   * the next receipt starts a line of its own.
   */
  append(jws: string): void {
    const line = `${jws}\n`;
    this.#fd ??= openSync(this.#path(this.#generation), 'a');
    this.#entries++;
    let written: number;
    try {
      written = writeSync(this.#fd, line);
    } catch (err) {
      this.seal();
      throw err;
    }
    if (written !== Buffer.byteLength(line)) {
      this.seal();
      throw new Error(`short write to the receipt journal (${written} of ${Buffer.byteLength(line)} bytes)`);
    }
  }

  /**
   * Ends the current generation (when it holds anything); returns the newest generation of this run that a batch
   * taken now covers, or undefined when none was sealed yet. Never throws: a batch is taken with it.
   */
  seal(): number | undefined {
    if (this.#entries > 0) {
      try {
        closeSync(this.#fd!);
      } catch {
        // The descriptor is of no further use either way; the file's lines were written (or refused) already.
      }
      this.#fd = undefined;
      this.#entries = 0;
      this.#sealed = this.#generation++;
    }
    return this.#sealed;
  }

  /** Deletes this run's generations up to `generation` (their receipts are in the store now). */
  async release(generation: number): Promise<void> {
    while (this.#released < generation) await rm(this.#path(++this.#released), { force: true });
  }

  /** Deletes the generations found at start, once the ledger has replayed them into its store. */
  async releaseFound(): Promise<void> {
    for (const generation of this.found.splice(0)) await rm(this.#path(generation), { force: true });
  }

  close(): void {
    if (this.#fd !== undefined) closeSync(this.#fd);
    this.#fd = undefined;
  }

  #path(generation: number): string {
    return join(this.dir, `${generation}.log`);
  }
}
