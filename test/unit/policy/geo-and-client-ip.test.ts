import { describe, expect, it } from 'vitest';
import { clientIp, countryVerdict, CountryLookup, defaultGeoDatabasePath, ipQuotaBucket, isSpecialPurposeAddress, normalizeIp } from '../../../src/policy/index.js';

describe('clientIp', () => {
  const headers = { 'x-forwarded-for': '203.0.113.9, 81.2.69.142' };

  it('ignores X-Forwarded-For unless trust_proxy is on', () => {
    expect(clientIp({ headers, socketAddress: '::ffff:10.0.0.2' }, false)).toBe('10.0.0.2');
  });

  it('takes the address the trusted proxy appended (rightmost), not the client-supplied one', () => {
    expect(clientIp({ headers, socketAddress: '10.0.0.2' }, true)).toBe('81.2.69.142');
    expect(clientIp({ headers, socketAddress: '10.0.0.2' }, 2)).toBe('203.0.113.9');
  });

  it('falls back to the socket address when the header is missing or garbage', () => {
    expect(clientIp({ headers: {}, socketAddress: '10.0.0.2' }, true)).toBe('10.0.0.2');
    expect(clientIp({ headers: { 'x-forwarded-for': 'not-an-ip' }, socketAddress: '10.0.0.2' }, true)).toBe('10.0.0.2');
  });

  it('normalises IPv4-mapped IPv6 and brackets', () => {
    expect(normalizeIp('::FFFF:1.2.3.4')).toBe('1.2.3.4');
    expect(normalizeIp('[2001:DB8::1]')).toBe('2001:db8::1');
  });
});

describe('ipQuotaBucket', () => {
  it('counts IPv6 by /64 in one canonical spelling, IPv4 by address', () => {
    const buckets = ['2001:db8:1:2::1', '2001:db8:1:2::2', '2001:DB8:1:2:0:0:0:1', '2001:0db8:0001:0002:ffff:ffff:ffff:ffff'].map(ipQuotaBucket);
    expect(new Set(buckets)).toEqual(new Set(['2001:db8:1:2::/64']));
    expect(ipQuotaBucket('2001:db8:1:3::1')).toBe('2001:db8:1:3::/64');
    expect(ipQuotaBucket('::1')).toBe('0:0:0:0::/64');
    expect(ipQuotaBucket('64:ff9b::192.0.2.33')).toBe('64:ff9b:0:0::/64');
    expect(ipQuotaBucket('81.2.69.142')).toBe('81.2.69.142');
    expect(ipQuotaBucket('not an address')).toBe('not an address');
  });
});

describe('CountryLookup with the bundled database', () => {
  const geo = new CountryLookup();

  it('knows well-known addresses', () => {
    expect(geo.country('8.8.8.8')).toBe('US');
    expect(geo.country('81.2.69.142')).toBe('GB');
    expect(geo.country('202.12.27.33')).toBe('JP');
    expect(geo.country('2a00:1450:4001::1')).toBe('IE');
  });

  it('does not know private or invalid addresses', () => {
    expect(geo.country('127.0.0.1')).toBeUndefined();
    expect(geo.country('10.1.2.3')).toBeUndefined();
    expect(geo.country('not an ip')).toBeUndefined();
  });
});

describe('CountryLookup of special-purpose addresses (RFC 6890)', () => {
  const special = [
    '0.1.2.3', '10.1.2.3', '10.255.255.254', '100.64.0.1', '100.127.255.254', '127.0.0.1', '::ffff:127.0.0.1', '169.254.1.1', '172.16.0.1', '172.31.255.254',
    '192.168.1.1', '::ffff:192.168.0.10', '::', '::1', 'fc00::1', 'fd12:3456::1', 'fe80::1', 'febf::1',
  ];
  /** Private ranges the bundled data maps to a country all the same (AU): a quirk of the data, not a location. */
  const mappedByTheData = new Set(['172.16.0.1', '172.31.255.254', '192.168.1.1']);

  it('the bundled database has no country for them, except two private ranges it maps to AU', () => {
    const asked = new CountryLookup(defaultGeoDatabasePath());
    for (const ip of special) expect([ip, asked.country(ip)]).toEqual([ip, mappedByTheData.has(ip) ? 'AU' : undefined]);
  });

  it('answers them without reading the bundled database; the first public address reads it', () => {
    const geo = new CountryLookup();
    for (const ip of special) expect(geo.country(ip)).toBeUndefined();
    expect(geo.loaded).toBe(false);
    expect(geo.country('8.8.8.8')).toBe('US');
    expect(geo.loaded).toBe(true);
  });

  it('always asks a configured database (auth.geo_db may map private ranges)', () => {
    const geo = new CountryLookup(defaultGeoDatabasePath());
    expect(geo.country('10.1.2.3')).toBeUndefined();
    expect(geo.loaded).toBe(true);
  });

  it('draws the ranges exactly', () => {
    for (const ip of special) expect([ip, isSpecialPurposeAddress(ip)]).toEqual([ip, true]);
    for (const ip of ['1.0.0.1', '9.255.255.255', '11.0.0.0', '100.128.0.0', '172.15.255.255', '172.32.0.0', '192.167.255.255', '192.169.0.0', '::2', '2001:db8::1', 'fbff::1', 'fec0::1', '::ffff:8.8.8.8', 'not an ip']) {
      expect([ip, isSpecialPurposeAddress(ip)]).toEqual([ip, false]);
    }
  });
});

describe('countryVerdict', () => {
  it('applies allow lists, block lists (block wins) and the unknown-country setting', () => {
    expect(countryVerdict({ allowedCountries: ['US'] }, 'US', 'deny')).toEqual({ allowed: true });
    expect(countryVerdict({ allowedCountries: ['US'] }, 'GB', 'allow')).toEqual({ allowed: false, reason: 'not_allowed' });
    expect(countryVerdict({ allowedCountries: ['US'], blockedCountries: ['US'] }, 'US', 'allow')).toEqual({ allowed: false, reason: 'blocked' });
    expect(countryVerdict({ blockedCountries: ['RU'] }, undefined, 'deny')).toEqual({ allowed: false, reason: 'unknown' });
    expect(countryVerdict({ blockedCountries: ['RU'] }, undefined, 'allow')).toEqual({ allowed: true });
    expect(countryVerdict({}, undefined, 'deny')).toEqual({ allowed: true });
  });
});
