import { afterEach, beforeEach, describe, expect, it, vi } from 'vitest';
import { IdleWatch } from '../../../src/gateway/idle-watch.js';

describe('IdleWatch', () => {
  beforeEach(() => vi.useFakeTimers());
  afterEach(() => vi.useRealTimers());

  const watch = (inFlight = () => 0) => {
    const events: string[] = [];
    const w = new IdleWatch({ quietMs: 1_000, inFlight, onBusy: () => events.push('busy'), onIdle: () => events.push('idle') });
    return { w, events };
  };

  it('starts busy (start-up is work) and goes idle after the quiet time, leaving no timer to wake an idle process', () => {
    const { w, events } = watch();
    expect(w.idle).toBe(false);
    vi.advanceTimersByTime(1_000);
    expect(events).toEqual(['busy', 'idle']);
    expect(w.idle).toBe(true);
    expect(vi.getTimerCount()).toBe(0);
  });

  it('stays busy while requests keep arriving, and goes idle one quiet time after the last', () => {
    const { w, events } = watch();
    for (let i = 0; i < 5; i++) {
      vi.advanceTimersByTime(900);
      w.served();
    }
    expect(events).toEqual(['busy']);
    vi.advanceTimersByTime(1_000);
    expect(events).toEqual(['busy']); // the last request came within the window that just ended
    vi.advanceTimersByTime(1_000);
    expect(events).toEqual(['busy', 'idle']);
  });

  it('stays busy while a request is in flight (a long stream), however long ago it arrived', () => {
    let inFlight = 1;
    const { events } = watch(() => inFlight);
    vi.advanceTimersByTime(5_000);
    expect(events).toEqual(['busy']);
    inFlight = 0;
    vi.advanceTimersByTime(1_000);
    expect(events).toEqual(['busy', 'idle']);
  });

  it('calls the busy hook once for the first request of an idle spell, then goes idle again', () => {
    const { w, events } = watch();
    vi.advanceTimersByTime(1_000);
    w.served();
    w.served();
    expect(events).toEqual(['busy', 'idle', 'busy']);
    expect(w.idle).toBe(false);
    vi.advanceTimersByTime(1_000); // the second request came within this window
    expect(events).toEqual(['busy', 'idle', 'busy']);
    vi.advanceTimersByTime(1_000);
    expect(events).toEqual(['busy', 'idle', 'busy', 'idle']);
  });

  it('does nothing more once closed', () => {
    const { w, events } = watch();
    w.close();
    vi.advanceTimersByTime(5_000);
    w.served();
    expect(events).toEqual(['busy']);
    expect(vi.getTimerCount()).toBe(0);
  });
});
