/**
 * A node-wide allowance of bytes for something buffered on behalf of peers (request frames being read): taken
 * before the bytes are buffered, given back once they are not. Refusing is the caller's job when `take` says no.
 */
export class ByteBudget {
  #available: number;

  constructor(readonly capacity: number) {
    this.#available = capacity;
  }

  get available(): number {
    return this.#available;
  }

  /** Takes `bytes` if that many are left; false (and nothing taken) otherwise. */
  take(bytes: number): boolean {
    if (bytes > this.#available) return false;
    this.#available -= bytes;
    return true;
  }

  give(bytes: number): void {
    this.#available = Math.min(this.capacity, this.#available + bytes);
  }
}
