/**
 * One consumer waiting for a producer (bytes arrived, a frame was queued, credit was granted): `wait` parks the
 * consumer until `wake` or the signal's abort, whichever comes first. Consumers re-check their condition after
 * waking, so a wake with nothing new is harmless.
 */
export class Wakeup {
  #wake: (() => void) | undefined;

  /** Resolves on the next `wake`; rejects with the signal's reason if it aborts first. `armed` runs once parked. */
  wait(signal: AbortSignal | undefined, armed?: () => void): Promise<void> {
    return new Promise<void>((resolve, reject) => {
      const onAbort = () => {
        this.#wake = undefined;
        reject(signal?.reason);
      };
      signal?.addEventListener('abort', onAbort, { once: true });
      this.#wake = () => {
        signal?.removeEventListener('abort', onAbort);
        resolve();
      };
      armed?.();
    });
  }

  get waiting(): boolean {
    return this.#wake !== undefined;
  }

  wake(): void {
    const wake = this.#wake;
    this.#wake = undefined;
    wake?.();
  }
}
