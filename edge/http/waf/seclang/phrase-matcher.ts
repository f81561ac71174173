// Case-insensitive multi-phrase search for @pm / @pmFromFile: an Aho-Corasick automaton over
// bytes, so the time is linear in the input whatever the number of phrases (CRS data files have
// hundreds). ASCII letters are folded, as ModSecurity's @pm is case-insensitive (Reference
// Manual v2.x, "pm").

function fold(c: number): number {
  return c >= 0x41 && c <= 0x5a ? c + 0x20 : c;
}

export class PhraseMatcher {
  /** Transitions of node n: keys are folded bytes. */
  private readonly next: Map<number, number>[] = [new Map()];
  private fail: Int32Array = new Int32Array(1);
  /** For each node, the length of the longest phrase that ends there (0: none), after following fail links. */
  private out: Int32Array = new Int32Array(1);
  private readonly lengths: number[] = [0];
  readonly size: number;

  constructor(phrases: Iterable<string>) {
    let count = 0;
    for (const phrase of phrases) {
      if (phrase.length === 0) continue;
      count++;
      let node = 0;
      for (let i = 0; i < phrase.length; i++) {
        const c = fold(phrase.charCodeAt(i) & 0xffff);
        let child = this.next[node]!.get(c);
        if (child === undefined) {
          child = this.next.length;
          this.next.push(new Map());
          this.lengths.push(0);
          this.next[node]!.set(c, child);
        }
        node = child;
      }
      this.lengths[node] = Math.max(this.lengths[node]!, phrase.length);
    }
    this.size = count;
    this.build();
  }

  private build(): void {
    const n = this.next.length;
    this.fail = new Int32Array(n);
    this.out = new Int32Array(n);
    const queue: number[] = [];
    for (const child of this.next[0]!.values()) {
      this.fail[child] = 0;
      queue.push(child);
    }
    this.out[0] = 0;
    for (let head = 0; head < queue.length; head++) {
      const node = queue[head]!;
      this.out[node] = this.lengths[node]! || this.out[this.fail[node]!]!;
      for (const [c, child] of this.next[node]!) {
        let f = this.fail[node]!;
        while (f !== 0 && !this.next[f]!.has(c)) f = this.fail[f]!;
        const target = this.next[f]!.get(c);
        this.fail[child] = target !== undefined && target !== child ? target : 0;
        queue.push(child);
      }
    }
  }

  /** The first phrase found (as it appears in the input), or null. */
  find(input: string): string | null {
    if (this.size === 0) return null;
    let node = 0;
    for (let i = 0; i < input.length; i++) {
      const c = fold(input.charCodeAt(i));
      for (;;) {
        const child = this.next[node]!.get(c);
        if (child !== undefined) {
          node = child;
          break;
        }
        if (node === 0) break;
        node = this.fail[node]!;
      }
      const len = this.out[node]!;
      if (len > 0) return input.slice(i + 1 - len, i + 1);
    }
    return null;
  }
}

/** The phrases of a @pmFromFile data file: one per line; blank lines and "#" comments skipped. */
export function parsePhraseFile(text: string): string[] {
  const phrases: string[] = [];
  for (const raw of text.split('\n')) {
    const line = raw.replace(/\r$/, '').trim();
    if (line === '' || line.startsWith('#')) continue;
    phrases.push(line);
  }
  return phrases;
}
