/** The cache's notion of time, injectable (`cache.clock`) so that TTL and circuit-breaker tests need no real waiting. */

/** A source of the current time in ms. */
export interface Clock {
  now(): number;
}

/** The real clock, used when the config gives none. */
export const wallClock: Clock = { now: () => Date.now() };
