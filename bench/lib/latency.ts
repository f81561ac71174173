// Latency samples of one benchmark cell, and the percentiles and medians a report shows.

/** Grows as needed; a cell of a few seconds at tens of thousands per second fits easily. */
export class LatencySamples {
  private values = new Float64Array(4096);
  private length = 0;

  add(ms: number): void {
    if (this.length === this.values.length) {
      const bigger = new Float64Array(this.values.length * 2);
      bigger.set(this.values);
      this.values = bigger;
    }
    this.values[this.length++] = ms;
  }

  get count(): number {
    return this.length;
  }

  /** Nearest-rank percentile (p in 0..100) in ms; NaN when there are no samples. */
  percentile(p: number): number {
    if (this.length === 0) return NaN;
    const sorted = this.values.slice(0, this.length).sort();
    const rank = Math.min(this.length, Math.max(1, Math.ceil((p / 100) * this.length)));
    return sorted[rank - 1]!;
  }
}

/** The median of a few figures (passes of one cell); NaN for none. */
export function median(values: readonly number[]): number {
  if (values.length === 0) return NaN;
  const sorted = [...values].sort((a, b) => a - b);
  const mid = sorted.length >> 1;
  return sorted.length % 2 === 1 ? sorted[mid]! : (sorted[mid - 1]! + sorted[mid]!) / 2;
}
