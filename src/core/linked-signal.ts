/**
 * One AbortSignal that aborts when any of `parents` aborts (with its reason) or, given `timeout`, once `timeout.ms`
 * pass (with `timeout.reason()`); `clear()` detaches it from its parents and stops its timer. It stands in for
 * `AbortSignal.any([...parents, AbortSignal.timeout(ms)])` on per-request paths: a listener added to a signal made by
 * `AbortSignal.any` costs 15–30 µs here (Node keeps such signals alive through weak references and a finalization
 * registry), against about 1 µs on this one, and an `AbortSignal.timeout` that is never cleared fires at its deadline
 * for every request that made one. The owner must call `clear()` when the work is over.
 */
export interface LinkedSignal {
  readonly signal: AbortSignal;
  /** The timeout passed (rather than a parent aborting). */
  readonly timedOut: boolean;
  clear(): void;
}

export function linkedSignal(parents: readonly (AbortSignal | undefined)[], timeout?: { ms: number; reason: () => unknown }): LinkedSignal {
  const controller = new AbortController();
  const attached: AbortSignal[] = [];
  let timer: NodeJS.Timeout | undefined;
  let timedOut = false;
  const clear = () => {
    clearTimeout(timer);
    for (const parent of attached) parent.removeEventListener('abort', onAbort);
    attached.length = 0;
  };
  function onAbort(this: AbortSignal) {
    clear();
    controller.abort(this.reason);
  }
  for (const parent of parents) {
    if (!parent) continue;
    if (parent.aborted) {
      clear();
      controller.abort(parent.reason);
      break;
    }
    parent.addEventListener('abort', onAbort, { once: true });
    attached.push(parent);
  }
  if (timeout && !controller.signal.aborted) {
    timer = setTimeout(() => {
      timedOut = true;
      clear();
      controller.abort(timeout.reason());
    }, timeout.ms);
    timer.unref();
  }
  return {
    signal: controller.signal,
    get timedOut() {
      return timedOut;
    },
    clear,
  };
}
