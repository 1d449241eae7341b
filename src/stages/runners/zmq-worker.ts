import { randomUUID } from 'node:crypto';
import { hostname } from 'node:os';
import * as zmq from 'zeromq';
import { startWorker as startThread } from '../../core/threads.js';
import { loadStage } from '../load-stage.js';
import { FrameRing } from './frame-ring.js';
import { runMainRole, runPreprocessRole, type Collectives, type RoleFigures } from '../roles.js';
import type { ServingSourceOpener, SourcePartition } from '../source.js';
import { servingSourceOpener } from '../sources.js';
import type { ReduceOp, StageDefinition } from '../stage.js';
import type {
  FromHeartbeatThread,
  HeartbeatThreadSetup,
  ToHeartbeatThread,
} from './zmq-heartbeat-thread.js';
import {
  arrayBytes,
  bytesToArray,
  DATA_END,
  decodeBatch,
  dtypeOf,
  encodeBatch,
  encodeControl,
  pack,
  serialSender,
  unpack,
  type Assignment,
  type CoordinatorMessage,
  type WorkerMessage,
} from './zmq-protocol.js';

/** Messages queued on a data socket (each way) before `send` waits: the back-pressure window. */
export const DATA_HWM = 8;
/**
 * How often workers tell the coordinator they are alive. They do so from a thread of their own
 * (`zmq-heartbeat-thread`), so a stage that blocks the worker's main thread still beats.
 */
export const HEARTBEAT_MS = 1000;

export interface ZmqWorkerOptions {
  /** The coordinator's control address, `tcp://HOST:PORT`. */
  coordinator: string;
  /**
   * The interface a main worker binds its data socket on. @defaultValue `127.0.0.1` when the
   * coordinator is on the loopback interface, else `0.0.0.0`
   */
  bind?: string;
  /** The host preprocess workers on other machines connect to. @defaultValue `bind`, or this machine's hostname for `0.0.0.0` */
  advertise?: string;
  /** The worker gives up (aborts and returns) after this long without hearing from the coordinator. @defaultValue 10000 */
  coordinatorTimeoutMs?: number;
  /**
   * @deprecated Unused: the worker writes no diagnostics of its own (the stage's log lines go to
   * the coordinator, its failures to the coordinator and its exit status). Accepted for callers that pass it.
   */
  log?: (line: string) => void;
  /**
   * Opens a `serving` source's store on this machine, in place of the module the coordinator
   * names (`Assignment.servingSourceOpener`), which may live at another path here.
   * @defaultValue the coordinator's module
   */
  openServingSource?: ServingSourceOpener;
}

/**
 * How a worker ended: `done` (the stage succeeded), `dismissed` (more workers came than the stage
 * used), `aborted` (the stage failed elsewhere) or `failed` (this worker's function threw).
 */
export interface ZmqWorkerOutcome {
  outcome: 'done' | 'dismissed' | 'aborted' | 'failed';
  role?: Assignment['role'];
  rank?: number;
}

interface Deferred<T> {
  promise: Promise<T>;
  resolve: (value: T) => void;
  reject: (error: unknown) => void;
}

function deferred<T>(): Deferred<T> {
  let resolve: (value: T) => void = () => {};
  let reject: (error: unknown) => void = () => {};
  const promise = new Promise<T>((ok, no) => {
    resolve = ok;
    reject = no;
  });
  promise.catch(() => {}); // observed by whoever awaits it; no unhandled rejection when nobody does
  return { promise, resolve, reject };
}

/** Sends one batch, encoded into `ring`'s memory, and tells the ring once the socket took it. */
async function sendBatch(socket: zmq.Push, ring: FrameRing, batch: unknown[]): Promise<void> {
  await socket.send(encodeBatch(batch, ring));
  ring.accepted();
}

/** A worker's running heartbeat thread. */
interface HeartbeatThread {
  /** Resolves once the thread is connected and beating; rejects when it could not start. */
  ready: Promise<void>;
  /** Stops the thread and waits for it to end (terminating it if it does not end by itself). */
  stop(): Promise<void>;
}

/** How long a heartbeat thread gets to close its socket and end when asked to stop. */
const HEARTBEAT_THREAD_STOP_MS = 2000;

/**
 * Starts the thread that beats for the worker whose control socket has routing id `of`, on a
 * socket of its own connected to `coordinator`. `onFailure` hears of the thread's failure once
 * it is beating (the coordinator would soon take the worker for dead).
 */
function startHeartbeatThread(
  coordinator: string,
  of: string,
  onFailure: (error: Error) => void,
): HeartbeatThread {
  const setup: HeartbeatThreadSetup = {
    kibanZmqHeartbeat: true,
    coordinator,
    of,
    intervalMs: HEARTBEAT_MS,
  };
  const ext = import.meta.url.endsWith('.ts') ? '.ts' : '.js';
  const thread = startThread(new URL(`./zmq-heartbeat-thread${ext}`, import.meta.url), {
    workerData: setup,
  });
  // Never what keeps the worker process alive; when the process ends, the thread ends with it.
  thread.unref();
  const ready = deferred<void>();
  let started = false;
  let stopping = false;
  let failed = false;
  const fail = (error: Error): void => {
    if (!started) ready.reject(error);
    else if (!stopping && !failed) {
      failed = true;
      onFailure(error);
    }
  };
  thread.on('message', (message: FromHeartbeatThread) => {
    if (message.type !== 'ready') return;
    started = true;
    ready.resolve();
  });
  thread.on('error', (error) =>
    fail(
      new Error(
        `the heartbeat thread ${started ? 'failed' : 'could not start'}: ${error.message}`,
        { cause: error },
      ),
    ),
  );
  const exited = new Promise<void>((resolve) =>
    thread.once('exit', (code) => {
      fail(new Error(`the heartbeat thread ended unexpectedly (exit code ${code})`));
      resolve();
    }),
  );
  return {
    ready: ready.promise,
    stop: async () => {
      stopping = true;
      thread.postMessage({ type: 'stop' } satisfies ToHeartbeatThread);
      let timer: NodeJS.Timeout | undefined;
      const late = new Promise<'late'>(
        (resolve) => (timer = setTimeout(() => resolve('late'), HEARTBEAT_THREAD_STOP_MS)),
      );
      const how = await Promise.race([exited, late]);
      clearTimeout(timer);
      if (how === 'late') await thread.terminate();
    },
  };
}

function isLoopback(address: string): boolean {
  const host = new URL(address.replace(/^tcp:/, 'http:')).hostname;
  return host === 'localhost' || host.startsWith('127.') || host === '[::1]';
}

/**
 * One worker process of the ZeroMQ stage runner (`kiban stage worker --coordinator tcp://HOST:PORT`,
 * or spawned by {@link ZmqStageRunner}): registers with the coordinator, which assigns it a role
 * and rank, runs that role with the same logic as every runner, and returns once the coordinator
 * says the stage is over, or it stops hearing from the coordinator (so that no orphan is left).
 */
export async function runZmqWorker(options: ZmqWorkerOptions): Promise<ZmqWorkerOutcome> {
  const bind = options.bind ?? (isLoopback(options.coordinator) ? '127.0.0.1' : '0.0.0.0');
  const advertise = options.advertise ?? (bind === '0.0.0.0' ? hostname() : bind);
  const timeoutMs = options.coordinatorTimeoutMs ?? 10_000;

  // Linger so that a last `failed` or `done` reaches the coordinator after we close. The
  // routing id is ours to choose so that the heartbeat thread can name this socket.
  const routingId = `kiban-worker-${randomUUID()}`;
  const control = new zmq.Dealer({ linger: 2000, routingId });
  control.connect(options.coordinator);
  const sendControl = serialSender(control);
  const tell = (message: WorkerMessage, payload?: Buffer): Promise<void> =>
    sendControl(encodeControl(message, payload));
  const sockets: zmq.Socket[] = [control];

  const abort = new AbortController();
  const assigned = deferred<Assignment>();
  const mains = deferred<string[]>();
  const ended = deferred<'exit' | 'abort' | 'dismiss'>();
  const partitions: Deferred<SourcePartition | null>[] = [];
  const collectives = new Map<
    number,
    Deferred<{ message: CoordinatorMessage & { t: 'collective' }; payload: Buffer }>
  >();
  const stop = (reason: unknown): void => {
    if (abort.signal.aborted) return;
    abort.abort(reason);
    for (const waiter of [assigned, mains, ...partitions, ...collectives.values()])
      waiter.reject(reason);
    // Closing the data sockets wakes any receive or send that waits on a peer that is gone.
    for (const socket of sockets.slice(1)) if (!socket.closed) socket.close();
  };

  // Where a failure of this worker happened, for the coordinator's message.
  let where = `worker pid ${process.pid} on ${hostname()}`;
  let heard = Date.now();
  let ticked = Date.now();
  // The heartbeats themselves go from the heartbeat thread; this timer watches the coordinator.
  const watch = setInterval(() => {
    const now = Date.now();
    // A tick that comes late means our own event loop was blocked (a long synchronous step in
    // the stage); the coordinator's pings are then still unread, so that gap does not count.
    if (now - ticked > 2 * HEARTBEAT_MS) heard = now;
    ticked = now;
    if (now - heard > timeoutMs) {
      const error = new Error(
        `no word from the coordinator ${options.coordinator} for ${Math.round(timeoutMs / 1000)} s`,
      );
      stop(error);
      ended.reject(error);
    }
  }, HEARTBEAT_MS);

  const receiving = (async () => {
    for await (const frames of control) {
      heard = Date.now();
      const message = unpack<CoordinatorMessage>(frames[0]);
      switch (message.t) {
        case 'assign':
          assigned.resolve(message.assignment);
          break;
        case 'mains':
          mains.resolve(message.addresses);
          break;
        case 'partition':
          partitions.shift()?.resolve(message.partition);
          break;
        case 'collective': {
          const waiter = collectives.get(message.seq);
          collectives.delete(message.seq);
          waiter?.resolve({ message, payload: frames[1] });
          break;
        }
        case 'abort':
          stop(new Error(`aborted by the coordinator: ${message.reason}`));
          ended.resolve('abort');
          break;
        case 'dismiss':
          stop(new Error(`dismissed: ${message.reason}`));
          ended.resolve('dismiss');
          break;
        case 'exit':
          ended.resolve('exit');
          break;
        case 'ping':
          break;
      }
    }
  })().catch(() => {}); // ends when the socket closes

  let beats: HeartbeatThread | undefined;
  let outcome: ZmqWorkerOutcome['outcome'] = 'done';
  try {
    beats = startHeartbeatThread(options.coordinator, routingId, (error) => {
      if (abort.signal.aborted) return;
      void tell({ t: 'failed', where, message: error.message }).catch(() => {});
      stop(error);
      ended.reject(error);
    });
    // Beating before the coordinator knows us, so that the stage cannot block the main thread
    // before the beats have started.
    await Promise.race([beats.ready, ended.promise]);
    await tell({ t: 'hello', pid: process.pid, host: hostname() });
    const a = await Promise.race([assigned.promise, ended.promise.then(() => null)]);
    if (a === null) return { outcome: 'dismissed' };
    where = `${a.role} rank ${a.rank}`;
    try {
      const stage = await loadStage(a.stage);
      const stageLog = (line: string): void => void tell({ t: 'log', line }).catch(() => {});
      if (a.role === 'main') {
        await runMain(a, stage, stageLog);
      } else {
        await runPreprocess(a, stage, stageLog);
      }
    } catch (error) {
      if (abort.signal.aborted) {
        outcome = 'aborted';
      } else {
        outcome = 'failed';
        const e = error instanceof Error ? error : new Error(String(error));
        await tell({
          t: 'failed',
          where,
          message: e.message,
          ...(e.stack === undefined ? {} : { stack: e.stack }),
        });
      }
    }
    const end = await ended.promise;
    if (end !== 'exit' && outcome === 'done') outcome = 'aborted';
    return { outcome, role: a.role, rank: a.rank };
  } finally {
    clearInterval(watch);
    stop(new Error('worker closing'));
    for (const socket of sockets) if (!socket.closed) socket.close();
    await Promise.all([receiving, beats?.stop()]);
  }

  async function runMain(
    a: Assignment,
    stage: StageDefinition,
    stageLog: (line: string) => void,
  ): Promise<void> {
    const data = new zmq.Pull({ receiveHighWaterMark: DATA_HWM, linger: 0 });
    sockets.push(data);
    await data.bind(`tcp://${bind}:0`);
    const port = new URL(data.lastEndpoint!.replace(/^tcp:/, 'http:')).port;
    const outputs = new zmq.Push({ sendHighWaterMark: DATA_HWM, linger: 2000 });
    sockets.push(outputs);
    const outputRing = new FrameRing({ hwm: DATA_HWM });
    outputs.connect(a.outputs);
    await tell({ t: 'ready', address: `tcp://${advertise}:${port}` });

    async function* input(): AsyncGenerator<unknown[]> {
      // One end marker per preprocess worker closes the stream.
      for (let ends = 0; ends < a.numPreprocessors; ) {
        const frames = await data.receive();
        if (frames[0].toString() === DATA_END) ends++;
        else yield decodeBatch(frames);
      }
    }
    const figures = await runMainRole({
      stage,
      rank: a.rank,
      size: a.size,
      params: a.params,
      input: input(),
      collectives: collectivesOf(a.rank),
      emit: (batch) => sendBatch(outputs, outputRing, batch),
      batchSize: a.batchSize,
      signal: abort.signal,
      log: stageLog,
    });
    await outputs.send([Buffer.from(DATA_END), pack(figures)]);
  }

  async function runPreprocess(
    a: Assignment,
    stage: StageDefinition,
    stageLog: (line: string) => void,
  ): Promise<void> {
    if (a.source === undefined) throw new Error('the coordinator sent no source');
    const source = a.source;
    const addresses = await mains.promise;
    const pushes = addresses.map((address) => {
      const push = new zmq.Push({ sendHighWaterMark: DATA_HWM, linger: 2000 });
      sockets.push(push);
      push.connect(address);
      return push;
    });
    const rings = pushes.map(() => new FrameRing({ hwm: DATA_HWM }));
    const figures: RoleFigures = await runPreprocessRole({
      stage,
      rank: a.rank,
      size: a.size,
      params: a.params,
      source,
      mains: a.count,
      batchSize: a.batchSize,
      signal: abort.signal,
      log: stageLog,
      ...(options.openServingSource !== undefined
        ? { openServingSource: options.openServingSource }
        : a.servingSourceOpener !== undefined
          ? { openServingSource: servingSourceOpener(a.servingSourceOpener) }
          : {}),
      nextPartition: async () => {
        const waiter = deferred<SourcePartition | null>();
        partitions.push(waiter);
        await tell({ t: 'next' });
        return waiter.promise;
      },
      send: (main, batch) => sendBatch(pushes[main], rings[main], batch),
    });
    await Promise.all(pushes.map((push) => push.send([Buffer.from(DATA_END)])));
    await tell({ t: 'done', figures });
  }

  function collectivesOf(rank: number): Collectives {
    let seq = 0;
    const round = async (
      message: Omit<WorkerMessage & { t: 'collective' }, 't' | 'seq'>,
      payload: Buffer,
    ) => {
      if (abort.signal.aborted) throw abort.signal.reason;
      const s = seq++;
      const waiter = deferred<{
        message: CoordinatorMessage & { t: 'collective' };
        payload: Buffer;
      }>();
      collectives.set(s, waiter);
      await tell({ t: 'collective', seq: s, ...message }, payload);
      return waiter.promise;
    };
    return {
      allreduce: async <T extends Float32Array | Float64Array>(
        array: T,
        op: ReduceOp = 'sum',
      ): Promise<T> => {
        const reply = await round(
          { kind: 'allreduce', op, dtype: dtypeOf(array) },
          arrayBytes(array),
        );
        return bytesToArray(reply.payload, reply.message.dtype ?? 'f64') as T;
      },
      broadcast: async <T>(value: T, root = 0): Promise<T> => {
        const reply = await round({ kind: 'broadcast', root }, pack(rank === root ? value : null));
        return unpack<T>(reply.payload);
      },
      barrier: async () => {
        await round({ kind: 'barrier' }, Buffer.alloc(0));
      },
    };
  }
}
