/**
 * The SQLite store's {@link CampaignStore}: one row per campaign (`campaigns`) and one per
 * counter (`campaign_counts`, added up in place), written through the store's group commit.
 * The tables come from migration 2 of sqlite-schema.ts.
 *
 * @module
 * @internal
 */

import { checkCampaignId, checkCounts, checkState } from '../campaigns/ids.js';
import type { CampaignRecord, CampaignState, CampaignStore } from '../types.js';
import type { SqlitePartContext, SqliteRow } from './sqlite-driver.js';

/** What the campaign part needs of the SQLite store. */
export type SqliteCampaignContext = SqlitePartContext;

const UPSERT_CAMPAIGN = "INSERT INTO campaigns (id, state, reason, created_at, updated_at) VALUES (?, 'running', NULL, ?, ?) ON CONFLICT (id) DO UPDATE SET updated_at = max(updated_at, excluded.updated_at)";

/**
 * Creates the campaign part of `sqliteStore()`.
 *
 * @example
 * ```ts
 * // inside sqliteStore(): campaigns: sqliteCampaignStore({ name, write, read, run, one, all })
 * const store = sqliteStore({ path: 'mail.db' });
 * await store.campaigns.increment('spring', { sent: 1 }, Date.now());
 * ```
 */
export function sqliteCampaignStore(ctx: SqliteCampaignContext): CampaignStore {
  const { run, one, all } = ctx;
  return {
    name: ctx.name,
    increment(id, counts, at) {
      let list: [string, number][];
      try {
        checkCampaignId(id, 'id');
        list = checkCounts(counts);
      } catch (err) {
        return Promise.reject(err);
      }
      return ctx.write(() => {
        run(UPSERT_CAMPAIGN, id, at, at);
        for (const [name, n] of list) {
          run('INSERT INTO campaign_counts (campaign, name, value) VALUES (?, ?, ?) ON CONFLICT (campaign, name) DO UPDATE SET value = value + excluded.value', id, name, n);
        }
      });
    },
    setState(id, state: CampaignState, at, reason) {
      try {
        checkCampaignId(id, 'id');
        checkState(state, reason);
      } catch (err) {
        return Promise.reject(err);
      }
      return ctx.write(() => {
        run(
          'INSERT INTO campaigns (id, state, reason, created_at, updated_at) VALUES (?, ?, ?, ?, ?) ON CONFLICT (id) DO UPDATE SET state = excluded.state, reason = excluded.reason, updated_at = max(updated_at, excluded.updated_at)',
          id,
          state,
          reason ?? null,
          at,
          at,
        );
      });
    },
    get(id) {
      if (typeof id !== 'string') return undefined;
      return ctx.read(`reading campaign ${id}`, () => {
        const row = one('SELECT state, reason, created_at, updated_at FROM campaigns WHERE id = ?', id);
        if (row === undefined) return undefined;
        const counts: Record<string, number> = {};
        for (const c of all('SELECT name, value FROM campaign_counts WHERE campaign = ?', id)) {
          const v = Number(c.value);
          if (v !== 0) counts[String(c.name)] = v;
        }
        const record: CampaignRecord = { id, state: row.state as CampaignState, createdAt: Number(row.created_at), updatedAt: Number(row.updated_at), counts };
        return row.reason === null || row.reason === undefined ? record : { ...record, reason: String(row.reason) };
      });
    },
  };
}
