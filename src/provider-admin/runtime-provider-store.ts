import { z } from 'zod';
import type { Store } from '../store/index.js';
import { sealedSchema, type SealedBox } from './sealed-box.js';

/** A provider added through the API, as the operator wrote it (`${VAR}` references unresolved). */
export interface StoredProvider {
  id: string;
  /** The `[[providers]]` block as JSON, exactly as given (after PATCHes), before `${VAR}` substitution. */
  block: Record<string, unknown>;
  createdAt: number;
  updatedAt: number;
}

const recordSchema = z.object({ sealed: sealedSchema, created_at: z.number(), updated_at: z.number() }).strict();
type ProviderRecord = z.infer<typeof recordSchema>;

/**
 * The run-time providers in this node's LevelDB (sublevel `runtime-provider`, one entry per id), each block sealed
 * as a whole (see SealedBox): literal keys never sit in the data directory in clear text.
 */
export class RuntimeProviderStore {
  private readonly db;

  constructor(store: Store, private readonly box: SealedBox) {
    this.db = store.sublevel<ProviderRecord>('runtime-provider');
  }

  /** Every stored provider in creation order; those that cannot be opened (another admin key) are named apart. */
  async list(): Promise<{ providers: StoredProvider[]; unreadable: Array<{ id: string; reason: string }> }> {
    const providers: StoredProvider[] = [];
    const unreadable: Array<{ id: string; reason: string }> = [];
    for await (const [id, value] of this.db.iterator()) {
      const record = recordSchema.safeParse(value);
      if (!record.success) {
        unreadable.push({ id, reason: 'the stored entry is not in a known format' });
        continue;
      }
      try {
        const block = JSON.parse(this.box.open(record.data.sealed, id)) as Record<string, unknown>;
        providers.push({ id, block, createdAt: record.data.created_at, updatedAt: record.data.updated_at });
      } catch {
        unreadable.push({ id, reason: 'it was encrypted with another admin key (or altered)' });
      }
    }
    return { providers: providers.sort((a, b) => a.createdAt - b.createdAt || a.id.localeCompare(b.id)), unreadable };
  }

  async put(provider: StoredProvider): Promise<void> {
    await this.db.put(provider.id, {
      sealed: this.box.seal(JSON.stringify(provider.block), provider.id),
      created_at: provider.createdAt,
      updated_at: provider.updatedAt,
    });
  }

  async delete(id: string): Promise<void> {
    await this.db.del(id);
  }
}
