/**
 * A bounded map in two generations: when the young one is full it becomes the old one, and the
 * old one is dropped whole; a key found in the old one moves to the young one, so what is used
 * stays. (Deleting from a Map one key at a time leaves holes that slow it down.)
 */
export class Generations<V> {
  #young = new Map<string, V>();
  #old = new Map<string, V>();
  readonly #generationMax: number;

  /** Keeps at most `max` keys. */
  constructor(max: number) {
    this.#generationMax = Math.max(1, Math.ceil(max / 2));
  }

  get(key: string): V | undefined {
    const young = this.#young.get(key);
    if (young !== undefined) return young;
    const old = this.#old.get(key);
    if (old === undefined) return undefined;
    // A key is in one generation only, so that `update` changes the one copy.
    this.#old.delete(key);
    this.set(key, old);
    return old;
  }

  has(key: string): boolean {
    return this.#young.has(key) || this.#old.has(key);
  }

  /** Keeps `value` for `key` (in the young generation). */
  set(key: string, value: V): void {
    if (this.#young.size >= this.#generationMax) {
      this.#old = this.#young;
      this.#young = new Map();
    }
    this.#old.delete(key);
    this.#young.set(key, value);
  }

  /** Changes the value of `key` if it is kept; a key not kept stays out. */
  update(key: string, value: V): void {
    if (this.#young.has(key)) this.#young.set(key, value);
    else if (this.#old.has(key)) this.#old.set(key, value);
  }
}
