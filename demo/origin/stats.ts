// Requests per path, so tests can assert how many requests reached the origin (a cache HIT is one
// that did not). Paths are counted without their query. The number of distinct paths is bounded,
// so a scan of random URLs cannot grow the table without limit.
export interface DemoOriginStats {
  /** Every counted request. */
  readonly total: number;
  /** Requests per path (pathname only). Paths beyond the bound are summed under "(other)". */
  readonly byPath: Readonly<Record<string, number>>;
}

const MAX_PATHS = 1_000;

export class RequestCounter {
  #total = 0;
  #byPath = new Map<string, number>();

  count(path: string): void {
    this.#total++;
    const key = this.#byPath.has(path) || this.#byPath.size < MAX_PATHS ? path : '(other)';
    this.#byPath.set(key, (this.#byPath.get(key) ?? 0) + 1);
  }

  snapshot(): DemoOriginStats {
    return { total: this.#total, byPath: Object.fromEntries(this.#byPath) };
  }

  reset(): void {
    this.#total = 0;
    this.#byPath.clear();
  }
}
