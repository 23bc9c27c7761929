/**
 * Campaign states as this process knows them: cached for a short while, read again from the
 * store when stale (a pause or resume made by another process of a fleet), and reported when a
 * read finds a change.
 *
 * @module
 */

import { BoundedMap } from '../../queue/bounded-map.js';
import type { CampaignState, CampaignStore } from '../../types.js';

/** How long a campaign state read from the store is trusted before it is read again (fleet-wide pauses). @internal */
export const STATE_TTL_MS = 2_000;
/** Most campaign states cached. */
const MAX_STATES = 10_000;

/** A cached state. @internal */
export interface CachedState {
  state: CampaignState;
  reason: string | undefined;
  loadedAt: number;
  loading: boolean;
  /** False until the store answered once: until then jobs of the campaign wait (it may be paused). */
  known?: boolean;
}

/** What {@link CampaignStates} needs. @internal */
export interface CampaignStatesParts {
  readonly store: CampaignStore;
  readonly now: () => number;
  readonly reportError: (context: string, what: string, err: unknown) => void;
  /** A read from the store found the state changed from `before` (made elsewhere). */
  readonly changed: (id: string, before: CampaignState, after: CampaignState) => void;
}

/** The cache of campaign states. @internal */
export class CampaignStates {
  /** States by campaign id; past MAX_STATES the first cached is forgotten (read again when asked). */
  private readonly states = new BoundedMap<string, CachedState>(MAX_STATES, 'fifo');

  constructor(private readonly parts: CampaignStatesParts) {}

  /** The cached entry, as it is (no read from the store). */
  get(id: string): CachedState | undefined {
    return this.states.get(id);
  }

  /** Records a state set by this process (known now, nothing to read). */
  set(id: string, state: CampaignState, reason?: string): void {
    this.states.set(id, { state, reason, loadedAt: this.parts.now(), loading: false });
  }

  /** The state of a campaign as cached; starts reading it from the store when unknown or stale. */
  stateOf(id: string, force = false): CampaignState | undefined {
    const now = this.parts.now();
    let c = this.states.get(id);
    if (c !== undefined && (c.loading || (!force && now - c.loadedAt < STATE_TTL_MS))) return c.known === false ? undefined : c.state;
    if (c === undefined) {
      c = { state: 'running', reason: undefined, loadedAt: now, loading: true, known: false };
      this.states.set(id, c);
      const got = this.load(id, c);
      return got ? c.state : undefined;
    }
    c.loading = true;
    this.load(id, c);
    return c.state;
  }

  /** Reads the state of `id` into `c`; true when it was known at once (a synchronous store). */
  private load(id: string, c: CachedState): boolean {
    const { store, now, reportError } = this.parts;
    const apply = (record: Awaited<ReturnType<CampaignStore['get']>>): void => {
      c.loading = false;
      c.known = true;
      c.loadedAt = now();
      const before = c.state;
      c.state = record?.state ?? 'running';
      c.reason = record?.reason;
      if (before !== c.state) this.parts.changed(id, before, c.state);
    };
    try {
      const got = store.get(id);
      if (!(got instanceof Promise)) {
        apply(got);
        return true;
      }
      got.then(apply, (err: unknown) => {
        // Unknown state: sending as running beats holding mail forever on a failing store.
        c.loading = false;
        c.known = true;
        c.loadedAt = now();
        reportError('store.campaigns', `Campaign store (${store.name}) get`, err);
      });
    } catch (err) {
      c.loading = false;
      c.known = true;
      reportError('store.campaigns', `Campaign store (${store.name}) get`, err);
      return true;
    }
    return false;
  }
}
