import type { ForwardHead, ForwardRequestFrame, ForwardTrailer } from '../mesh/index.js';
import type { PeerForwarder, PeerResponse } from '../pipeline/peer-attempt.js';
import type { IpcChannel } from './ipc-channel.js';

/**
 * Mesh forwarding for a worker: the node's one libp2p node runs in the primary, so a worker's forward is a call there
 * and the peer's body comes back as IPC events. Flow control is a credit window: the primary sends at most
 * `WINDOW` chunks ahead of what the worker has consumed, so a slow client slows the peer, as in one process.
 */
const WINDOW = 16;

type StreamEvent =
  | { stream: number; chunk: Uint8Array }
  | { stream: number; trailer: ForwardTrailer }
  | { stream: number; error: { message: string } };

/** The primary's side: runs each forward on its own mesh forwarder and streams the answer to the worker. */
export function servePeerForwards(channel: IpcChannel, forwarder: PeerForwarder): () => void {
  const streams = new Map<number, { abort: AbortController; credit: number; wake?: () => void }>();
  channel.handle('peers.candidates', ({ model, exclude }: { model: string; exclude: string[] }) => forwarder.candidates(model, exclude, AbortSignal.timeout(60_000)));
  channel.on<{ stream: number; n: number }>('peers.more', ({ stream, n }) => {
    const entry = streams.get(stream);
    if (!entry) return;
    entry.credit += n;
    entry.wake?.();
  });
  channel.on<{ stream: number }>('peers.abort', ({ stream }) => {
    const entry = streams.get(stream);
    entry?.abort.abort(new Error('the worker\'s client went away'));
    entry?.wake?.();
  });
  // The worker numbers its streams, so it can abort one before its head arrived (its client left while the peer thought).
  channel.handle('peers.forward', async ({ stream, peerId, frame }: { stream: number; peerId: string; frame: ForwardRequestFrame }): Promise<{ head: ForwardHead }> => {
    const entry: { abort: AbortController; credit: number; wake?: () => void } = { abort: new AbortController(), credit: WINDOW };
    streams.set(stream, entry);
    let response: PeerResponse;
    try {
      response = await forwarder.forward(peerId, frame, entry.abort.signal);
    } catch (err) {
      streams.delete(stream);
      throw err;
    }
    void (async () => {
      try {
        for await (const chunk of response.body) {
          while (entry.credit <= 0 && !entry.abort.signal.aborted) await new Promise<void>((resolve) => (entry.wake = resolve));
          if (entry.abort.signal.aborted) return;
          entry.credit--;
          channel.emit('peers.event', { stream, chunk } satisfies StreamEvent);
        }
        channel.emit('peers.event', { stream, trailer: await response.trailer } satisfies StreamEvent);
      } catch (err) {
        channel.emit('peers.event', { stream, error: { message: (err as Error).message } } satisfies StreamEvent);
      } finally {
        streams.delete(stream);
      }
    })();
    return { head: response.head };
  });
  return () => {
    for (const entry of streams.values()) {
      entry.abort.abort(new Error('the worker is gone'));
      entry.wake?.();
    }
    streams.clear();
  };
}

/** The worker's PeerForwarder: the same decisions as the primary's (`forward`, `max_hops`), the work done there. */
export function peerForwarderViaPrimary(channel: IpcChannel, options: { selfId: string; forward: 'on_failure' | 'never'; maxHops: number }): PeerForwarder {
  const open = new Map<number, (event: StreamEvent) => void>();
  let next = 1;
  // Events that arrive before their stream's reader is set up (the first chunks can overtake the call's answer's handling).
  const early = new Map<number, StreamEvent[]>();
  channel.on<StreamEvent>('peers.event', (event) => {
    const deliver = open.get(event.stream);
    if (deliver) deliver(event);
    else early.set(event.stream, [...(early.get(event.stream) ?? []), event]);
  });
  return {
    selfId: options.selfId,
    canForward: (req) => options.forward !== 'never' && req.hop.count < options.maxHops,
    candidates: (model, exclude) => channel.call<string[]>('peers.candidates', { model, exclude }, { timeoutMs: null }),
    forward: async (peerId, frame, signal): Promise<PeerResponse> => {
      const stream = next++;
      const abortBeforeHead = () => channel.emit('peers.abort', { stream });
      signal.addEventListener('abort', abortBeforeHead, { once: true });
      let head: ForwardHead;
      try {
        // No IPC time-out of its own: the primary's forward is bounded by the mesh's (dial, head, idle) time-outs.
        ({ head } = await channel.call<{ head: ForwardHead }>('peers.forward', { stream, peerId, frame }, { timeoutMs: null }));
      } finally {
        signal.removeEventListener('abort', abortBeforeHead);
      }
      const queue: StreamEvent[] = early.get(stream) ?? [];
      early.delete(stream);
      let wake: (() => void) | undefined;
      let settleTrailer!: { resolve: (t: ForwardTrailer) => void; reject: (err: Error) => void };
      const trailer = new Promise<ForwardTrailer>((resolve, reject) => (settleTrailer = { resolve, reject }));
      trailer.catch(() => undefined);
      open.set(stream, (event) => {
        queue.push(event);
        wake?.();
      });
      const onAbort = () => {
        channel.emit('peers.abort', { stream });
        wake?.();
      };
      signal.addEventListener('abort', onAbort, { once: true });
      const body = (async function* () {
        try {
          for (;;) {
            while (queue.length === 0 && !signal.aborted) await new Promise<void>((resolve) => (wake = resolve));
            if (signal.aborted) throw signal.reason instanceof Error ? signal.reason : new Error('aborted');
            const event = queue.shift()!;
            if ('chunk' in event) {
              channel.emit('peers.more', { stream, n: 1 });
              yield event.chunk;
            } else if ('trailer' in event) {
              settleTrailer.resolve(event.trailer);
              return;
            } else {
              const err = new Error(event.error.message);
              settleTrailer.reject(err);
              throw err;
            }
          }
        } finally {
          settleTrailer.reject(new Error('the peer\'s answer was not read to its end'));
          open.delete(stream);
          signal.removeEventListener('abort', onAbort);
          // A reader that stops early (an error answer read in part) lets the primary stop sending.
          channel.emit('peers.abort', { stream });
        }
      })();
      return { head, body, trailer };
    },
  };
}
