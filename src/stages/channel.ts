/**
 * A bounded async queue between producers and one consumer: `put` waits while `capacity` items
 * are queued (back-pressure), the consumer iterates until every producer has called `close`.
 * `fail` wakes everyone with an error.
 */
export class Channel<T> implements AsyncIterable<T> {
  readonly #items: T[] = [];
  readonly #capacity: number;
  #openProducers: number;
  #error: unknown = null;
  #waitingConsumer: (() => void) | null = null;
  readonly #waitingProducers: (() => void)[] = [];

  constructor(options: { capacity: number; producers: number }) {
    this.#capacity = Math.max(1, options.capacity);
    this.#openProducers = options.producers;
  }

  async put(item: T): Promise<void> {
    while (this.#items.length >= this.#capacity && this.#error === null) {
      await new Promise<void>((resolve) => this.#waitingProducers.push(resolve));
    }
    if (this.#error !== null) throw this.#error;
    this.#items.push(item);
    this.#wakeConsumer();
  }

  /** One producer is done; the consumer ends once all are and the queue is drained. */
  close(): void {
    this.#openProducers--;
    this.#wakeConsumer();
  }

  fail(error: unknown): void {
    if (this.#error !== null) return;
    this.#error = error;
    this.#wakeConsumer();
    for (const wake of this.#waitingProducers.splice(0)) wake();
  }

  async *[Symbol.asyncIterator](): AsyncIterator<T> {
    for (;;) {
      if (this.#error !== null) throw this.#error;
      if (this.#items.length > 0) {
        const item = this.#items.shift()!;
        this.#waitingProducers.shift()?.();
        yield item;
        continue;
      }
      if (this.#openProducers <= 0) return;
      await new Promise<void>((resolve) => (this.#waitingConsumer = resolve));
    }
  }

  #wakeConsumer(): void {
    const wake = this.#waitingConsumer;
    this.#waitingConsumer = null;
    wake?.();
  }
}
