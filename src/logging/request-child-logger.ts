import pino, { type Logger } from 'pino';

const { chindingsSym, stringifiersSym, serializersSym } = pino.symbols as typeof pino.symbols & { stringifiersSym: symbol };

type Bindings = Record<string, unknown>;
type ChildOptions = pino.ChildLoggerOptions;

/**
 * fastify's child logger per request (its `childLoggerFactory`), with the same bindings text as pino's own `child`
 * but without running each binding through the redaction. With wildcard redaction paths (`*.api_key`, …) pino passes
 * every binding value — here the request id, a string fastify makes itself — to the wildcard redactor, which clones it
 * and parses all the paths again: about 4 KB and most of a child's CPU per request, for a value that has no property
 * a path could name. A binding is written directly only when redaction cannot touch it: a string, number or boolean
 * under a key that is neither a redacted top-level key nor one with a serializer; anything else goes through pino.
 * Options are passed on only when they set something (fastify always passes an object, which sends pino down its
 * slower path that rebuilds the formatters of every child).
 */
export function requestChildLogger(logger: Logger, bindings: Bindings, options: ChildOptions = {}): Logger {
  const opts = Object.keys(options).length > 0 ? options : undefined;
  const text = directBindings(logger, bindings);
  if (text === undefined) return logger.child(bindings, opts);
  const child = logger.child({}, opts);
  (child as unknown as Record<symbol, string>)[chindingsSym] += text;
  return child;
}

/** The bindings as pino's `child` would append them (`,"key":value`), or undefined when redaction could apply. */
function directBindings(logger: Logger, bindings: Bindings): string | undefined {
  const internals = logger as unknown as Record<symbol, Record<string, unknown>>;
  const stringifiers = internals[stringifiersSym]!;
  const serializers = internals[serializersSym]!;
  let text = '';
  for (const key in bindings) {
    if (!Object.hasOwn(bindings, key)) continue;
    const value = bindings[key];
    if (value === undefined) continue;
    const type = typeof value;
    if ((type !== 'string' && type !== 'number' && type !== 'boolean') || stringifiers[key] || serializers[key]) return undefined;
    if (key === 'level' || key === 'serializers' || key === 'formatters' || key === 'customLevels') return undefined;
    text += `,${JSON.stringify(key)}:${JSON.stringify(value)}`;
  }
  return text;
}
