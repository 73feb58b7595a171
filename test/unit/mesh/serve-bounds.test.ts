import { afterEach, beforeEach, describe, expect, it, vi } from 'vitest';
import { ServeBounds } from '../../../src/mesh/serve-bounds.js';

// The serving side's bound and heartbeats of one forwarded request on one timer (protocol/forward.md, "Response" and
// "Backpressure"). Fake timers: Date.now is its clock here.
describe('ServeBounds', () => {
  beforeEach(() => vi.useFakeTimers());
  afterEach(() => vi.useRealTimers());

  const start = (cancelled = new AbortController().signal, boundMs = 60_000, onHeartbeat?: (bounds: ServeBounds) => void) => {
    const beats: number[] = [];
    const bounds: ServeBounds = new ServeBounds(cancelled, {
      boundMs, heartbeatMs: 1_000, now: () => Date.now(),
      heartbeat: () => {
        beats.push(Date.now());
        (onHeartbeat ?? ((b) => b.sent()))(bounds);
      },
    });
    return { bounds, beats, t0: Date.now() };
  };

  it('sends a heartbeat whenever nothing was sent for a heartbeat interval, and none while writes keep coming', () => {
    const { bounds, beats, t0 } = start();
    vi.advanceTimersByTime(999);
    expect(beats).toEqual([]);
    vi.advanceTimersByTime(1);
    expect(beats).toEqual([t0 + 1_000]);
    vi.advanceTimersByTime(2_000);
    expect(beats).toEqual([t0 + 1_000, t0 + 2_000, t0 + 3_000]);
    for (let i = 0; i < 10; i++) {
      vi.advanceTimersByTime(500);
      bounds.sent(); // a streamed answer's chunks every 500 ms: no heartbeat needed
    }
    expect(beats).toHaveLength(3);
    vi.advanceTimersByTime(1_000);
    expect(beats).toEqual([t0 + 1_000, t0 + 2_000, t0 + 3_000, t0 + 9_000]);
  });

  it('checks again an interval later when a heartbeat could not be sent (the stream was full), without spinning', () => {
    const { beats, t0 } = start(undefined, 60_000, () => undefined); // never sends
    vi.advanceTimersByTime(3_500);
    expect(beats).toEqual([t0 + 1_000, t0 + 2_000, t0 + 3_000]);
  });

  it('aborts at its bound with the TimeoutError AbortSignal.timeout would give', () => {
    const { bounds } = start(undefined, 2_500);
    vi.advanceTimersByTime(2_499);
    expect(bounds.signal.aborted).toBe(false);
    vi.advanceTimersByTime(1);
    expect(bounds.signal.reason).toBeInstanceOf(DOMException);
    expect((bounds.signal.reason as DOMException).name).toBe('TimeoutError');
  });

  it("aborts with the cancellation's reason, and does nothing once cleared", () => {
    const requester = new AbortController();
    const { bounds } = start(requester.signal);
    const reason = new Error('the requester cancelled the request');
    requester.abort(reason);
    expect(bounds.signal.reason).toBe(reason);

    const other = new AbortController();
    const cleared = start(other.signal, 2_000);
    cleared.bounds.clear();
    other.abort(new Error('late'));
    vi.advanceTimersByTime(10_000);
    expect(cleared.bounds.signal.aborted).toBe(false);
    expect(cleared.beats).toEqual([]);
  });

  it('is aborted from the start for a request cancelled already', () => {
    const requester = new AbortController();
    requester.abort(new Error('gone'));
    const { bounds, beats } = start(requester.signal);
    expect(bounds.signal.aborted).toBe(true);
    vi.advanceTimersByTime(5_000);
    expect(beats).toEqual([]);
  });
});
