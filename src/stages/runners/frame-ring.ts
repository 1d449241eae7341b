/**
 * Memory for the frames of outgoing messages on one ZeroMQ socket, reused in a ring instead of
 * freshly allocated for every message.
 *
 * Why: zeromq.js sends every frame above 128 bytes zero-copy and lets go of it only when its
 * I/O thread has written it, and Node frees a large Buffer only when the garbage collector gets
 * round to it. A fresh `Buffer.allocUnsafe` per batch therefore lands on fresh pages: every byte
 * sent cost a page fault first, which made the columnar encoding of ~1 KB records 5–20× slower
 * inside a worker process than in isolation (measured with `perf`: page faults and the faulting
 * memmove were ~40% of the preprocess process).
 *
 * When memory may be reused: a PUSH socket accepts a message (its `send` resolves) only while
 * fewer than its send high-water mark of whole messages wait in its pipe; beyond the pipe, the
 * TCP engine holds at most the message it is writing and the one it has loaded next, and the
 * kernel copies what it is given. So once `hwm + SLACK` later messages have been accepted, an
 * earlier message's frames are no longer read by anyone. The caller reports each accepted send
 * with {@link FrameRing.accepted}; memory of a message is handed out again only after that many
 * acceptances (with extra slack), and whatever does not fit falls back to a fresh Buffer.
 */
export class FrameRing {
  readonly #bytes: number;
  readonly #distance: number;
  #memory: Buffer | null = null;
  #head = 0;
  /** Messages encoded so far (the one being encoded has number `#sealed`). */
  #sealed = 0;
  #acceptedCount = 0;
  /** Where each message still possibly in ZeroMQ's hands starts, oldest first: [start, message number]. */
  readonly #pending: [number, number][] = [];
  /** Start of the current message's span in the ring (-1: nothing taken from the ring yet). */
  #start = -1;
  #fallbacks = 0;

  /** {@link FrameRing.take} and {@link FrameRing.shrink}, bound to this ring. */
  readonly memory = {
    take: (bytes: number): Buffer => this.take(bytes),
    shrink: (frame: Buffer, bytes: number): Buffer => this.shrink(frame, bytes),
  };

  /**
   * @param options.hwm the socket's send high-water mark (messages).
   * @param options.bytes the ring's size. @defaultValue 32 MiB
   */
  constructor(options: { hwm: number; bytes?: number }) {
    this.#bytes = options.bytes ?? 32 * 2 ** 20;
    // Generous: the analysis above needs hwm + 2.
    this.#distance = options.hwm + SLACK;
  }

  /** `bytes` of memory, 8-byte aligned (any typed array can be laid over it), for the current message. */
  take(bytes: number): Buffer {
    const size = (bytes + 7) & ~7;
    if (size === 0) return Buffer.alloc(0);
    // A message may use at most a share of the ring that lets `distance` messages be in flight.
    if (size > this.#bytes / (this.#distance + 2) || !this.#fits(size)) {
      this.#fallbacks++;
      return Buffer.allocUnsafe(bytes);
    }
    this.#memory ??= Buffer.allocUnsafe(this.#bytes);
    if (this.#head + size > this.#bytes) this.#head = 0;
    if (this.#start < 0) this.#start = this.#head;
    const out = this.#memory.subarray(this.#head, this.#head + bytes);
    this.#head += size;
    return out;
  }

  /**
   * Cuts `frame`, the last memory {@link take}n for the current message, down to its first
   * `bytes`, and hands the rest back to the ring (for a frame written before its size was known:
   * taken at the most it could need). A fresh fallback frame is only cut.
   */
  shrink(frame: Buffer, bytes: number): Buffer {
    if (bytes > frame.length)
      throw new RangeError(`shrink: ${bytes} bytes asked of a ${frame.length}-byte frame`);
    const memory = this.#memory;
    if (memory !== null && frame.buffer === memory.buffer && frame.length > 0) {
      const at = frame.byteOffset - memory.byteOffset;
      // Only the last take can be given back: it ends at the head.
      if (at + ((frame.length + 7) & ~7) === this.#head) {
        this.#head = at + ((bytes + 7) & ~7);
        // Nothing left of the current message's span: it has none.
        if (this.#head === this.#start) this.#start = -1;
      }
    }
    return frame.subarray(0, bytes);
  }

  /** The current message is encoded; what it took is pending until enough later sends are accepted. */
  seal(): void {
    if (this.#start >= 0) this.#pending.push([this.#start, this.#sealed]);
    this.#start = -1;
    this.#sealed++;
  }

  /** One more message was accepted by the socket (its `send` resolved). */
  accepted(): void {
    this.#acceptedCount++;
    const done = this.#acceptedCount - this.#distance;
    while (this.#pending.length > 0 && this.#pending[0][1] < done) this.#pending.shift();
  }

  /** How many frames had to be allocated fresh (the ring was full or the frame too large). */
  get fallbacks(): number {
    return this.#fallbacks;
  }

  /** Whether `size` bytes fit at the head (or at the start, after wrapping) without touching pending spans. */
  #fits(size: number): boolean {
    if (size > this.#bytes) return false;
    const oldest = this.#pending[0];
    if (oldest === undefined) {
      // Only the current message's own span can be in use.
      if (this.#start < 0) return true;
      if (this.#head >= this.#start) return this.#head + size <= this.#bytes || size <= this.#start;
      return this.#head + size <= this.#start;
    }
    // In use: from the oldest pending message's start up to the head, around the ring's end if
    // it wrapped (spans are never empty, so head === tail means the ring is full).
    const tail = oldest[0];
    if (this.#head > tail) return this.#head + size <= this.#bytes || size <= tail;
    return this.#head + size <= tail;
  }
}

/** Messages beyond the high-water mark before memory is reused (the engine holds at most 2). */
const SLACK = 4;
