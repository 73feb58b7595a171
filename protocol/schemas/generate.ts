/**
 * Rewrites every JSON Schema in this folder from the zod schemas the code validates with (src/protocol-schemas.ts).
 * `npx tsx protocol/schemas/generate.ts`; test/mesh/protocol-vectors.test.ts fails when a file is out of date.
 */
import { writeFile } from 'node:fs/promises';
import { join } from 'node:path';
import { PROTOCOL_SCHEMAS, protocolSchemaText } from '../../src/protocol-schemas.js';

for (const file of Object.keys(PROTOCOL_SCHEMAS)) {
  await writeFile(join(import.meta.dirname, file), protocolSchemaText(file));
  console.log(`wrote protocol/schemas/${file}`);
}
