import { readFileSync } from 'node:fs';
import { createRequire } from 'node:module';
import { BlockList, isIP } from 'node:net';
import { Reader, type Response } from 'maxmind';

/**
 * IP → ISO 3166-1 alpha-2 country, read from a MaxMind-format (.mmdb) database with the `maxmind` reader.
 * Out of the box it is the database shipped in @ip-location-db/geo-whois-asn-country-mmdb (records
 * `{ country_code }`, built from RIR whois and ASN data); `auth.geo_db` can point at a MaxMind GeoLite2/GeoIP2
 * Country file instead (records `{ country: { iso_code } }`,
 * https://dev.maxmind.com/geoip/docs/databases/city-and-country#locations-files). The file is read on first use.
 */
interface CountryRecord {
  country_code?: string;
  country?: { iso_code?: string };
  registered_country?: { iso_code?: string };
}

export function defaultGeoDatabasePath(): string {
  return createRequire(import.meta.url).resolve('@ip-location-db/geo-whois-asn-country-mmdb/geo-whois-asn-country.mmdb');
}

/**
 * Special-purpose ranges that no registry allocates to anyone (RFC 6890: this network, private use, shared address
 * space, loopback, link-local, unique local): an address in one has no country. The bundled database, built from
 * registry data, has none for them either — except 172.16.0.0/12 and 192.168.0.0/16, for which it answers AU, a
 * quirk of its data (a 192.168 client is on the node's own network, not in Australia). So a lookup of one never reads
 * the database's 8 MB into memory, and a node whose clients are all local (a proxy on the same host, a private
 * network) never does. A configured `auth.geo_db` is always asked (it may map private ranges on purpose).
 */
const SPECIAL_PURPOSE = new BlockList();
for (const [network, prefix] of [
  ['0.0.0.0', 8], ['10.0.0.0', 8], ['100.64.0.0', 10], ['127.0.0.0', 8], ['169.254.0.0', 16], ['172.16.0.0', 12], ['192.168.0.0', 16],
] as const) {
  SPECIAL_PURPOSE.addSubnet(network, prefix, 'ipv4');
}
for (const [network, prefix] of [['::', 128], ['::1', 128], ['fc00::', 7], ['fe80::', 10]] as const) SPECIAL_PURPOSE.addSubnet(network, prefix, 'ipv6');

/** Whether `ip` (IPv4, IPv6 or IPv4-mapped IPv6) is in one of the special-purpose ranges above. */
export function isSpecialPurposeAddress(ip: string): boolean {
  const family = isIP(ip);
  return family !== 0 && SPECIAL_PURPOSE.check(ip, family === 6 ? 'ipv6' : 'ipv4');
}

export class CountryLookup {
  private reader?: Reader<Response>;
  private readonly file: string;
  /** The bundled database (no `auth.geo_db`): it knows no special-purpose address. */
  private readonly bundled: boolean;

  constructor(file?: string) {
    this.file = file ?? defaultGeoDatabasePath();
    this.bundled = file === undefined;
  }

  /** Whether the database has been read into memory. */
  get loaded(): boolean {
    return this.reader !== undefined;
  }

  /** Opens the database now (it is otherwise opened on first use), so a wrong path fails at start-up. */
  open(): void {
    try {
      this.reader ??= new Reader<Response>(readFileSync(this.file));
    } catch (err) {
      throw new Error(`cannot read the country database ${this.file}: ${(err as NodeJS.ErrnoException).code ?? (err as Error).message}`);
    }
  }

  /** Country code in upper case, or undefined when the database does not know the address (private ranges, etc.). */
  country(ip: string): string | undefined {
    if (this.bundled && isSpecialPurposeAddress(ip)) return undefined;
    this.reader ??= new Reader<Response>(readFileSync(this.file));
    let record: CountryRecord | null;
    try {
      // The reader's typings cover MaxMind's own shapes only; both shapes are read through CountryRecord.
      record = this.reader.get(ip) as CountryRecord | null;
    } catch {
      return undefined;
    }
    const code = record?.country_code ?? record?.country?.iso_code ?? record?.registered_country?.iso_code;
    return code ? code.toUpperCase() : undefined;
  }
}
