import { inspect } from 'node:util';

/**
 * A configured secret (provider key, admin key, PSK). Its value is reachable only through `reveal()`; every way a
 * value usually leaks (JSON.stringify, string interpolation, util.inspect / console.log, pino) prints "[redacted]".
 */
export class Secret {
  readonly #value: string;

  constructor(value: string) {
    this.#value = value;
  }

  reveal(): string {
    return this.#value;
  }

  get isEmpty(): boolean {
    return this.#value.length === 0;
  }

  toJSON(): string {
    return '[redacted]';
  }

  toString(): string {
    return '[redacted]';
  }

  [inspect.custom](): string {
    return 'Secret([redacted])';
  }
}
