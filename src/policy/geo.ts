import { readFileSync } from 'node:fs';
import { createRequire } from 'node:module';
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

export class CountryLookup {
  private reader?: Reader<Response>;

  constructor(private readonly file: string = defaultGeoDatabasePath()) {}

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
