import { Writable } from 'node:stream';

/** A logger destination that appends each log line written to it to `lines` (the tests read them as JSON). */
export function lineSink(lines: string[]): Writable {
  return new Writable({
    write(chunk, _encoding, done) {
      lines.push(...String(chunk).split('\n').filter(Boolean));
      done();
    },
  });
}
