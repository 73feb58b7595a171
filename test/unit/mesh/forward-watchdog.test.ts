import { afterEach, beforeEach, describe, expect, it, vi } from 'vitest';
import { ForwardWatchdog, type ForwardBound } from '../../../src/mesh/forward-watchdog.js';

// The requester's bounds of one forward (protocol/forward.md, "Response"): the deadline, the head's wait, the peer's
// silence while a frame is awaited — one signal, one timer. Fake timers: Date.now is the watchdog's clock here.
describe('ForwardWatchdog', () => {
  beforeEach(() => vi.useFakeTimers());
  afterEach(() => vi.useRealTimers());

  const start = (parent = new AbortController().signal, bounds: Partial<{ deadlineMs: number; headMs: number; idleMs: number }> = {}) => {
    const aborted: unknown[] = [];
    const watchdog = new ForwardWatchdog(parent, {
      deadlineMs: 10_000, headMs: 3_000, idleMs: 1_000, ...bounds,
      reason: (bound: ForwardBound) => new Error(`${bound} passed`),
      onAbort: (reason) => aborted.push(reason),
    }, () => Date.now());
    return { watchdog, aborted };
  };

  it('aborts at the deadline with its reason, telling onAbort once', () => {
    const { watchdog, aborted } = start();
    vi.advanceTimersByTime(9_999);
    expect(watchdog.signal.aborted).toBe(false);
    vi.advanceTimersByTime(1);
    expect(watchdog.signal.aborted).toBe(true);
    expect(watchdog.expired).toBe('deadline');
    expect((watchdog.signal.reason as Error).message).toBe('deadline passed');
    expect(aborted).toEqual([watchdog.signal.reason]);
    vi.advanceTimersByTime(60_000);
    expect(aborted).toHaveLength(1);
  });

  it('bounds the head from when it is awaited, and not once it has arrived', () => {
    const { watchdog } = start();
    vi.advanceTimersByTime(2_000); // opening the channel: the head's bound has not started
    watchdog.headAwaited();
    vi.advanceTimersByTime(2_999);
    expect(watchdog.signal.aborted).toBe(false);
    vi.advanceTimersByTime(1);
    expect(watchdog.expired).toBe('head');

    const other = start().watchdog;
    other.headAwaited();
    vi.advanceTimersByTime(1_000);
    other.headArrived();
    vi.advanceTimersByTime(5_000);
    expect(other.signal.aborted).toBe(false);
    vi.advanceTimersByTime(4_000);
    expect(other.expired).toBe('deadline');
  });

  it('bounds silence only while a frame is awaited (a slow consumer between reads is not a silent peer)', () => {
    const { watchdog } = start(undefined, { idleMs: 1_000 });
    watchdog.waitStarted();
    vi.advanceTimersByTime(500);
    watchdog.waitEnded();
    vi.advanceTimersByTime(3_000); // the consumer took its time: no wait, no silence
    expect(watchdog.signal.aborted).toBe(false);
    watchdog.waitStarted(); // the timer armed for the first wait fired in between and found nothing due
    vi.advanceTimersByTime(999);
    expect(watchdog.signal.aborted).toBe(false);
    vi.advanceTimersByTime(1);
    expect(watchdog.expired).toBe('idle');
    expect((watchdog.signal.reason as Error).message).toBe('idle passed');
  });

  it('re-arms when it fires for a bound that moved later, and fires for the one that is due', () => {
    const { watchdog } = start(undefined, { idleMs: 1_000 });
    watchdog.waitStarted(); // timer at 1,000
    vi.advanceTimersByTime(900);
    watchdog.waitEnded();
    vi.advanceTimersByTime(50);
    watchdog.waitStarted(); // silence bounded until 1,950: the timer still fires at 1,000 first
    vi.advanceTimersByTime(50);
    expect(watchdog.signal.aborted).toBe(false);
    vi.advanceTimersByTime(949);
    expect(watchdog.signal.aborted).toBe(false);
    vi.advanceTimersByTime(1);
    expect(watchdog.expired).toBe('idle');
  });

  it("aborts with the caller's reason when the caller's signal aborts, and not at all once cleared", () => {
    const caller = new AbortController();
    const { watchdog, aborted } = start(caller.signal);
    const reason = new Error('client went away');
    caller.abort(reason);
    expect(watchdog.signal.reason).toBe(reason);
    expect(watchdog.expired).toBeUndefined();
    expect(aborted).toEqual([reason]);

    const later = new AbortController();
    const cleared = start(later.signal);
    cleared.watchdog.waitStarted();
    cleared.watchdog.clear();
    cleared.watchdog.headAwaited(); // a late call arms nothing again
    cleared.watchdog.waitStarted();
    later.abort(new Error('after the request was over'));
    vi.advanceTimersByTime(60_000);
    expect(cleared.watchdog.signal.aborted).toBe(false);
    expect(cleared.aborted).toEqual([]);
  });

  it('is aborted from the start for a caller signal aborted already', () => {
    const caller = new AbortController();
    caller.abort(new Error('gone'));
    const { watchdog, aborted } = start(caller.signal);
    expect(watchdog.signal.aborted).toBe(true);
    expect(aborted).toHaveLength(1);
  });

  it('waits out a deadline longer than setTimeout can hold instead of firing at once', () => {
    const { watchdog } = start(undefined, { deadlineMs: 3_000_000_000 });
    vi.advanceTimersByTime(2_147_483_648);
    expect(watchdog.signal.aborted).toBe(false);
    vi.advanceTimersByTime(3_000_000_000 - 2_147_483_648);
    expect(watchdog.expired).toBe('deadline');
  });
});
