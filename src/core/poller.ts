/**
 * Runs a check every `pollMs` once started, and whenever asked; calls made while a check runs
 * share it. The live objects that follow a published pointer (the tagger, a vector index, a
 * graph model) poll with it. The timer does not keep the process alive.
 *
 * @example
 * ```ts
 * const poller = new Poller(() => this.#check(), 2000); // #check logs its problems, never throws
 * poller.start();
 * await poller.run(); // now, sharing a check already running
 * poller.stop();
 * ```
 */
export class Poller<T> {
  readonly #check: () => Promise<T>;
  readonly #pollMs: number;
  #timer: NodeJS.Timeout | null = null;
  #running: Promise<T> | null = null;

  /** @param check - must not reject: a poll has nobody to report to. */
  constructor(check: () => Promise<T>, pollMs: number) {
    this.#check = check;
    this.#pollMs = pollMs;
  }

  /** Whether the timer runs. */
  get started(): boolean {
    return this.#timer !== null;
  }

  /** Checks now, then every `pollMs` until {@link stop}; a second call does nothing. */
  start(): void {
    if (this.#timer !== null) return;
    void this.run();
    this.#timer = setInterval(() => void this.run(), this.#pollMs);
    this.#timer.unref();
  }

  /** Checks now, or joins the check running. */
  run(): Promise<T> {
    this.#running ??= this.#check().finally(() => {
      this.#running = null;
    });
    return this.#running;
  }

  /** Stops the timer (a check running finishes). */
  stop(): void {
    if (this.#timer !== null) clearInterval(this.#timer);
    this.#timer = null;
  }
}
