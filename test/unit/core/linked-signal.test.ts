import { describe, expect, it, vi } from 'vitest';
import { linkedSignal } from '../../../src/core/index.js';

describe('linkedSignal', () => {
  it('aborts with the reason of the first parent that aborts', () => {
    const a = new AbortController();
    const b = new AbortController();
    const linked = linkedSignal([a.signal, undefined, b.signal]);
    const reason = new Error('b went away');
    b.abort(reason);
    a.abort(new Error('later'));
    expect(linked.signal.aborted).toBe(true);
    expect(linked.signal.reason).toBe(reason);
    expect(linked.timedOut).toBe(false);
  });

  it('is aborted at once when a parent already is', () => {
    const a = new AbortController();
    a.abort('gone');
    const linked = linkedSignal([a.signal], { ms: 10, reason: () => 'late' });
    expect(linked.signal.reason).toBe('gone');
  });

  it('aborts with the timeout reason once the time passes, and says so', () => {
    vi.useFakeTimers();
    try {
      const parent = new AbortController();
      const linked = linkedSignal([parent.signal], { ms: 1_000, reason: () => new DOMException('slow', 'TimeoutError') });
      vi.advanceTimersByTime(999);
      expect(linked.signal.aborted).toBe(false);
      vi.advanceTimersByTime(1);
      expect(linked.timedOut).toBe(true);
      expect((linked.signal.reason as DOMException).name).toBe('TimeoutError');
    } finally {
      vi.useRealTimers();
    }
  });

  it('after clear(), neither its parents nor its timer abort it, and it holds no listener on the parents', () => {
    vi.useFakeTimers();
    try {
      const parent = new AbortController();
      const added = vi.spyOn(parent.signal, 'addEventListener');
      const removed = vi.spyOn(parent.signal, 'removeEventListener');
      const linked = linkedSignal([parent.signal], { ms: 1_000, reason: () => 'late' });
      linked.clear();
      expect(removed.mock.calls.map((c) => c[1])).toEqual(added.mock.calls.map((c) => c[1]));
      vi.advanceTimersByTime(5_000);
      parent.abort('gone');
      expect(linked.signal.aborted).toBe(false);
      expect(vi.getTimerCount()).toBe(0);
    } finally {
      vi.useRealTimers();
    }
  });
});
