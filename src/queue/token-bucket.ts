/**
 * A token bucket: `ratePerSecond` tokens flow in continuously up to `burst`.
 *
 * @internal
 * @module
 */
export class TokenBucket {
  tokens: number;
  private last: number;

  constructor(
    public rate: number,
    public burst: number,
    now: number,
  ) {
    this.tokens = burst;
    this.last = now;
  }

  /** Tops the bucket up to `now`. */
  refill(now: number): void {
    if (this.rate === Infinity) {
      this.tokens = this.burst;
    } else if (now > this.last) {
      this.tokens = Math.min(this.burst, this.tokens + ((now - this.last) * this.rate) / 1000);
    }
    this.last = now;
  }

  /** Milliseconds until one token is available (0 when one is available now). */
  waitMs(now: number): number {
    if (this.rate === Infinity) return 0;
    this.refill(now);
    if (this.tokens >= 1) return 0;
    return Math.max(1, Math.ceil(((1 - this.tokens) * 1000) / this.rate));
  }

  /** Takes one token; callers check {@link waitMs} first. */
  take(): void {
    if (this.rate !== Infinity) this.tokens -= 1;
  }

  /** Changes the rate (and burst) keeping the tokens already earned. */
  setRate(rate: number, burst: number, now: number): void {
    this.refill(now);
    this.rate = rate;
    this.burst = burst;
    if (this.tokens > burst) this.tokens = burst;
  }
}
