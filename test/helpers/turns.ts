/**
 * Counts the turns of the event loop while work runs: an immediate that re-arms itself until
 * `stop()`. Work that holds the loop in one turn lets it run once at most; work that yields
 * between slices lets it run between them.
 */
export interface TurnCounter {
  /** Turns counted so far. */
  readonly turns: number;
  /** Stops counting (the count stays readable). */
  stop(): void;
}

/** Starts counting turns of the event loop from the next one. */
export function countTurns(): TurnCounter {
  let turns = 0;
  let running = true;
  const tick = (): void => {
    if (!running) return;
    turns++;
    setImmediate(tick);
  };
  setImmediate(tick);
  return {
    get turns() {
      return turns;
    },
    stop() {
      running = false;
    },
  };
}
