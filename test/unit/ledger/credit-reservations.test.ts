import { describe, expect, it } from 'vitest';
import { CreditReservations } from '../../../src/ledger/index.js';

describe('credit reservations', () => {
  it('admits concurrent requests only while owed + in flight stays within the limit', async () => {
    const owed = new Map<string, number>([['peer', 0]]);
    const credit = new CreditReservations(async (peer) => owed.get(peer) ?? 0, 100);
    // Twenty at once: the first reserves 150 (more than the limit), which every other one sees.
    const admissions = await Promise.all(Array.from({ length: 20 }, () => credit.admit('peer', 150)));
    expect(admissions.filter((a) => a.admitted)).toHaveLength(1);
    expect(admissions.find((a) => !a.admitted)).toEqual({ admitted: false, owedMicros: 0, inFlightMicros: 150 });
    // Its receipt is issued (now owed) and the reservation ends: still over the limit, by what is owed.
    owed.set('peer', 150);
    const first = admissions.find((a) => a.admitted)!;
    if (!first.admitted) throw new Error('unreachable');
    first.reservation.release();
    first.reservation.release(); // a second release changes nothing
    expect(credit.inFlight('peer')).toBe(0);
    expect(await credit.admit('peer', 1)).toMatchObject({ admitted: false, owedMicros: 150, inFlightMicros: 0 });
    // Acknowledged: service resumes; another peer was never affected.
    owed.set('peer', 0);
    expect((await credit.admit('peer', 10)).admitted).toBe(true);
    expect((await credit.admit('other', 1_000)).admitted).toBe(true);
  });

  it('admits everything without a limit, and keeps no reservation for a request estimated at nothing', async () => {
    const unlimited = new CreditReservations(async () => 1e12, undefined);
    expect((await unlimited.admit('peer', 1e9)).admitted).toBe(true);
    const limited = new CreditReservations(async () => 0, 10);
    const free = await limited.admit('peer', 0);
    expect(free.admitted).toBe(true);
    expect(limited.inFlight('peer')).toBe(0);
  });
});
