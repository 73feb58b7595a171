/**
 * LevelDB keys of the usage records. The primary key starts with the zero-padded receive time, so keys sort by time
 * and a time range is one contiguous key range; the request id after it keeps keys unique. The project index
 * prefixes the same key with the project and a NUL (projects cannot contain control characters), so one project's
 * records in a time range are contiguous too.
 */
const TIME_DIGITS = 15;
const PROJECT_SEPARATOR = '\u0000';
/** Sorts right after PROJECT_SEPARATOR: the exclusive end of one project's keys. */
const PROJECT_END = '\u0001';

export function timeKey(time: number): string {
  return String(Math.max(0, Math.floor(time))).padStart(TIME_DIGITS, '0');
}

export function recordKey(time: number, id: string): string {
  return `${timeKey(time)}!${id}`;
}

export function timeOfRecordKey(key: string): number {
  return Number(key.slice(0, TIME_DIGITS));
}

export function projectIndexKey(project: string, key: string): string {
  return `${project}${PROJECT_SEPARATOR}${key}`;
}

/** The record key inside a project index key, and the project it belongs to. */
export function splitProjectIndexKey(indexKey: string): { project: string; key: string } {
  const at = indexKey.indexOf(PROJECT_SEPARATOR);
  return { project: indexKey.slice(0, at), key: indexKey.slice(at + 1) };
}

/** The first key after every index key of `project`. */
export function projectIndexEnd(project: string): string {
  return `${project}${PROJECT_END}`;
}

/** Opaque pagination cursor: the last record key a page returned. */
export function encodeCursor(key: string): string {
  return Buffer.from(key, 'utf8').toString('base64url');
}

export function decodeCursor(cursor: string): string | undefined {
  const key = Buffer.from(cursor, 'base64url').toString('utf8');
  return /^\d{15}!.+/.test(key) ? key : undefined;
}
