import { spawn, type ChildProcess } from 'node:child_process';
import { createRequire } from 'node:module';
import { hostname } from 'node:os';
import { dirname, join } from 'node:path';
import { fileURLToPath, pathToFileURL } from 'node:url';
import * as zmq from 'zeromq';
import { InvalidArgumentError } from '../../core/errors.js';
import { reduceInRankOrder } from '../collectives-local.js';
import { coordinate, type Coordination } from '../coordinator.js';
import type { RoleFigures } from '../roles.js';
import type { RunStageOptions, StageResult, StageRunner } from '../runner.js';
import type { StageRef } from '../stage.js';
import {
  arrayBytes,
  bytesToArray,
  DATA_END,
  decodeBatch,
  encodeControl,
  serialSender,
  speakerOf,
  unpack,
  type Assignment,
  type CoordinatorMessage,
  type Dtype,
  type WorkerMessage,
} from './zmq-protocol.js';
import { DATA_HWM, HEARTBEAT_MS } from './zmq-worker.js';

/** A worker process as the coordinator knows it. */
export interface ZmqWorkerInfo {
  role: Assignment['role'];
  rank: number;
  pid: number;
  host: string;
}

export interface ZmqRunnerOptions {
  /** Where the coordinator's control socket binds; port 0 picks a free one. @defaultValue 'tcp://127.0.0.1:0' */
  listen?: string;
  /** The host workers connect to. @defaultValue the listen host, or this machine's hostname for `0.0.0.0` */
  advertise?: string;
  /**
   * Start the workers as local child processes. `false`: wait for `count + numPreprocessors`
   * workers started elsewhere (`kiban stage worker --coordinator tcp://HOST:PORT`).
   * @defaultValue true
   */
  spawn?: boolean;
  /** How long to wait for every worker to register. @defaultValue 30000 spawned, 120000 otherwise */
  registerTimeoutMs?: number;
  /** A worker not spawned here that is silent this long is taken for dead. @defaultValue 5000 */
  heartbeatTimeoutMs?: number;
  /** Called with the control address once bound (to start remote workers against an ephemeral port). */
  onListening?: (address: string) => void;
  /** Called as each worker registers and gets its role. */
  onWorker?: (worker: ZmqWorkerInfo) => void;
}

/** How long spawned workers get to exit by themselves before they are killed. */
const EXIT_GRACE_MS = { success: 5000, failure: 1000 };
/** Lines of a child's stderr kept to explain its death. */
const STDERR_TAIL = 20;

interface Peer extends ZmqWorkerInfo {
  id: Buffer;
  heard: number;
  spawned: boolean;
  address?: string;
}

interface Round {
  kind: string;
  parts: { message: WorkerMessage & { t: 'collective' }; payload: Buffer }[];
  arrived: number;
}

/**
 * Runs a stage's workers as separate processes connected by ZeroMQ: spawned on this machine, or
 * started on other machines with `kiban stage worker`. The coordinator (this process) hands out
 * roles, ranks and partitions over a ROUTER socket, runs collectives, and receives main outputs
 * on a PULL socket; preprocess workers push batches straight to main workers' PULL sockets.
 * A worker that dies (or, when remote, goes silent) fails the whole stage, and nothing is
 * written.
 */
export class ZmqStageRunner implements StageRunner {
  readonly name = 'zeromq';
  readonly #options: ZmqRunnerOptions;

  constructor(options: ZmqRunnerOptions = {}) {
    this.#options = options;
  }

  run(ref: StageRef, options: RunStageOptions): Promise<StageResult> {
    return coordinate(ref, options, this.name, (c) => this.#coordinate(ref, c));
  }

  async #coordinate(ref: StageRef, c: Coordination): Promise<RoleFigures> {
    const { count, numPreprocessors } = c.options;
    const total = count + numPreprocessors;
    const spawning = this.#options.spawn ?? true;
    const listen = this.#options.listen ?? 'tcp://127.0.0.1:0';
    const listenHost = /^tcp:\/\/([^:]+|\[[^\]]+\]):/.exec(listen)?.[1];
    if (listenHost === undefined)
      throw new InvalidArgumentError('listen', `expected tcp://HOST:PORT, got ${listen}`);
    const wildcard = listenHost === '0.0.0.0' || listenHost === '*';
    const advertise = this.#options.advertise ?? (wildcard ? hostname() : listenHost);
    const heartbeatTimeoutMs = this.#options.heartbeatTimeoutMs ?? 5000;

    const control = new zmq.Router({ linger: 1000 });
    const outputs = new zmq.Pull({ receiveHighWaterMark: DATA_HWM, linger: 0 });
    const sendControl = serialSender(control);
    const tell = (peer: Peer, message: CoordinatorMessage, payload?: Buffer): Promise<void> =>
      sendControl([peer.id, ...encodeControl(message, payload)]).catch(() => {});

    const peers = new Map<string, Peer>();
    const mains: Peer[] = [];
    const preprocessors: Peer[] = [];
    const children = new Map<
      number,
      { child: ChildProcess; stderr: string[]; closed: Promise<void> }
    >();
    const rounds = new Map<number, Round>();
    const figures: RoleFigures = { read: 0, preprocessed: 0, written: 0 };
    let preprocessDone = 0;
    let mainsEnded = 0;
    let closing = false;
    let finish: () => void = () => {};
    const finished = new Promise<void>((resolve) => (finish = resolve));
    const aborted = new Promise<void>((resolve) =>
      c.signal.addEventListener('abort', () => resolve(), { once: true }),
    );
    const checkFinished = (): void => {
      if (preprocessDone === numPreprocessors && mainsEnded === count) finish();
    };
    const describe = (p: Peer): string =>
      `process ${p.role} rank ${p.rank} (pid ${p.pid}, host ${p.host})`;

    const mainAddresses = (): string[] | null =>
      mains.length === count && mains.every((m) => m.address !== undefined)
        ? mains.map((m) => m.address!)
        : null;

    const onHello = (id: Buffer, message: WorkerMessage & { t: 'hello' }): void => {
      const key = id.toString('hex');
      if (peers.has(key)) return;
      if (peers.size >= total) {
        void tell(
          {
            id,
            role: 'preprocess',
            rank: -1,
            pid: message.pid,
            host: message.host,
            heard: 0,
            spawned: false,
          },
          { t: 'dismiss', reason: `this stage runs ${total} workers, all registered` },
        );
        return;
      }
      // Mains first, so that their data sockets are up before preprocess workers need them.
      const role = mains.length < count ? 'main' : 'preprocess';
      const group = role === 'main' ? mains : preprocessors;
      const peer: Peer = {
        id,
        role,
        rank: group.length,
        pid: message.pid,
        host: message.host,
        heard: Date.now(),
        spawned: spawning && message.host === hostname() && children.has(message.pid),
      };
      group.push(peer);
      peers.set(key, peer);
      c.log(`zeromq: ${role}[${peer.rank}] is pid ${peer.pid} on ${peer.host}`);
      this.#options.onWorker?.({ role, rank: peer.rank, pid: peer.pid, host: peer.host });
      void tell(peer, {
        t: 'assign',
        assignment: {
          role,
          rank: peer.rank,
          size: role === 'main' ? count : numPreprocessors,
          stage: ref,
          params: c.options.params,
          ...(role === 'preprocess' ? { source: c.options.source } : {}),
          ...(role === 'preprocess' && c.options.servingSourceOpener !== undefined
            ? { servingSourceOpener: c.options.servingSourceOpener }
            : {}),
          batchSize: c.options.batchSize,
          count,
          numPreprocessors,
          outputs: outputsAddress,
        },
      });
      const addresses = mainAddresses();
      if (role === 'preprocess' && addresses !== null) void tell(peer, { t: 'mains', addresses });
    };

    const onCollective = (
      peer: Peer,
      message: WorkerMessage & { t: 'collective' },
      payload: Buffer,
    ): void => {
      if (peer.role !== 'main') {
        c.fail(
          `${peer.role} rank ${peer.rank}`,
          new Error('collectives are only available in main'),
        );
        return;
      }
      let round = rounds.get(message.seq);
      if (round === undefined) {
        round = { kind: message.kind, parts: new Array(count), arrived: 0 };
        rounds.set(message.seq, round);
      }
      if (round.kind !== message.kind) {
        c.fail(
          `main rank ${peer.rank}`,
          new Error(
            `collective #${message.seq} is ${message.kind} on rank ${peer.rank} but ${round.kind} on another rank: every rank must call the same collectives in the same order`,
          ),
        );
        return;
      }
      round.parts[peer.rank] = { message, payload };
      if (++round.arrived < count) return;
      rounds.delete(message.seq);
      let reply: { dtype?: Dtype; payload: Buffer };
      try {
        reply = reduce(round);
      } catch (error) {
        c.fail(`main rank ${peer.rank}`, error);
        return;
      }
      for (const m of mains)
        void tell(
          m,
          {
            t: 'collective',
            seq: message.seq,
            ...(reply.dtype === undefined ? {} : { dtype: reply.dtype }),
          },
          reply.payload,
        );
    };

    const onMessage = (frames: Buffer[]): void => {
      const [id, head, payload] = frames;
      const message = unpack<WorkerMessage>(head);
      if (message.t === 'hello') {
        onHello(id, message);
        return;
      }
      // A worker's heartbeats come from its heartbeat thread's own socket, naming the worker's.
      const peer = peers.get(speakerOf(id, message).toString('hex'));
      if (peer === undefined) return;
      peer.heard = Date.now();
      switch (message.t) {
        case 'ready': {
          peer.address = message.address;
          const addresses = mainAddresses();
          if (addresses !== null)
            for (const p of preprocessors) void tell(p, { t: 'mains', addresses });
          break;
        }
        case 'next':
          c.nextPartition().then(
            (partition) => tell(peer, { t: 'partition', partition }),
            (error: unknown) => c.fail('the source', error),
          );
          break;
        case 'log':
          c.log(message.line);
          break;
        case 'done':
          figures.read += message.figures.read;
          figures.preprocessed += message.figures.preprocessed;
          preprocessDone++;
          checkFinished();
          break;
        case 'failed': {
          const error = new Error(message.message);
          if (message.stack !== undefined) error.stack = message.stack;
          c.fail(message.where, error);
          break;
        }
        case 'collective':
          onCollective(peer, message, payload);
          break;
        case 'heartbeat':
          break;
      }
    };

    let outputsAddress = '';
    const timers: NodeJS.Timeout[] = [];
    try {
      await control.bind(listen);
      await outputs.bind(`tcp://${listenHost}:0`);
      const address = `tcp://${advertise}:${portOf(control.lastEndpoint)}`;
      outputsAddress = `tcp://${advertise}:${portOf(outputs.lastEndpoint)}`;
      this.#options.onListening?.(address);

      const receivingControl = (async () => {
        for await (const frames of control) onMessage(frames);
      })().catch((error: unknown) => {
        if (!closing) c.fail('the runner', error);
      });
      const receivingOutputs = (async () => {
        for await (const frames of outputs) {
          if (frames[0].toString() === DATA_END) {
            mainsEnded++;
            checkFinished();
          } else {
            await c.write(decodeBatch(frames));
          }
        }
      })().catch((error: unknown) => {
        if (!closing) c.fail('the sink', error);
      });

      const registerTimeoutMs = this.#options.registerTimeoutMs ?? (spawning ? 30_000 : 120_000);
      const startedAt = Date.now();
      timers.push(
        setInterval(() => {
          const now = Date.now();
          for (const peer of peers.values()) {
            void tell(peer, { t: 'ping' });
            // Spawned children are watched by their exit event instead. Workers beat from a
            // thread of their own, so a long synchronous step in a stage does not stop the beats.
            if (!peer.spawned && now - peer.heard > heartbeatTimeoutMs) {
              c.fail(
                `${peer.role} rank ${peer.rank}`,
                new Error(
                  `${describe(peer)} died: no heartbeat for ${Math.round(heartbeatTimeoutMs / 1000)} s`,
                ),
              );
            }
          }
          if (peers.size < total && now - startedAt > registerTimeoutMs) {
            c.fail(
              'the runner',
              new Error(
                `only ${peers.size} of ${total} workers registered within ${Math.round(registerTimeoutMs / 1000)} s at ${address}`,
              ),
            );
          }
        }, HEARTBEAT_MS),
      );

      if (spawning)
        for (let i = 0; i < total; i++)
          this.#spawn(ref, address, c, children, peers, () => closing);
      await Promise.race([finished, aborted]);

      closing = true;
      const failed = c.signal.aborted;
      const reason = failed
        ? String((c.signal.reason as Error | undefined)?.message ?? c.signal.reason)
        : '';
      await Promise.all(
        [...peers.values()].map((p) => tell(p, failed ? { t: 'abort', reason } : { t: 'exit' })),
      );
      await this.#reap(children, failed ? EXIT_GRACE_MS.failure : EXIT_GRACE_MS.success, c, failed);
      control.close();
      outputs.close();
      await Promise.all([receivingControl, receivingOutputs]);
      return figures;
    } finally {
      closing = true;
      for (const timer of timers) clearInterval(timer);
      for (const { child } of children.values())
        if (child.exitCode === null && child.signalCode === null) child.kill('SIGKILL');
      if (!control.closed) control.close();
      if (!outputs.closed) outputs.close();
    }
  }

  /** Starts one local worker process and fails the stage if it dies before the stage is over. */
  #spawn(
    ref: StageRef,
    address: string,
    c: Coordination,
    children: Map<number, { child: ChildProcess; stderr: string[]; closed: Promise<void> }>,
    peers: Map<string, Peer>,
    closing: () => boolean,
  ): void {
    const child = spawn(process.execPath, [...workerCommand(ref), '--coordinator', address], {
      stdio: ['ignore', 'pipe', 'pipe'],
    });
    const stderr: string[] = [];
    const closed = new Promise<void>((resolve) => child.once('close', () => resolve()));
    child.once('error', (error) =>
      c.fail(
        'the runner',
        new Error(`could not start a worker process: ${error.message}`, { cause: error }),
      ),
    );
    child.stdout!.setEncoding('utf8').on('data', (text: string) => {
      for (const line of text.split('\n'))
        if (line !== '') c.log(`zeromq: pid ${child.pid}: ${line}`);
    });
    child.stderr!.setEncoding('utf8').on('data', (text: string) => {
      for (const line of text.split('\n')) {
        if (line === '') continue;
        stderr.push(line);
        if (stderr.length > STDERR_TAIL) stderr.shift();
        c.log(`zeromq: pid ${child.pid}: ${line}`);
      }
    });
    child.once('exit', (code, signal) => {
      if (closing()) return;
      const how = signal !== null ? `signal ${signal}` : `exit code ${code}`;
      const peer = [...peers.values()].find((p) => p.spawned && p.pid === child.pid);
      // Exit is immediate; give the last stderr lines a moment so that the error can show them.
      setTimeout(() => {
        const tail = stderr.length > 0 ? `\n${stderr.join('\n')}` : '';
        if (peer !== undefined)
          c.fail(
            `${peer.role} rank ${peer.rank}`,
            new Error(
              `process ${peer.role} rank ${peer.rank} (pid ${child.pid}, host ${hostname()}) died: ${how}${tail}`,
            ),
          );
        else
          c.fail(
            'the runner',
            new Error(
              `worker process (pid ${child.pid}, host ${hostname()}) died before registering: ${how}${tail}`,
            ),
          );
      }, 50);
    });
    if (child.pid !== undefined) children.set(child.pid, { child, stderr, closed });
  }

  /** Waits for spawned workers to exit, killing those that do not within `graceMs`. */
  async #reap(
    children: Map<number, { child: ChildProcess; closed: Promise<void> }>,
    graceMs: number,
    c: Coordination,
    failed: boolean,
  ): Promise<void> {
    await Promise.all(
      [...children.values()].map(async ({ child, closed }) => {
        let timer: NodeJS.Timeout | undefined;
        const late = new Promise<void>((resolve) => (timer = setTimeout(resolve, graceMs)));
        await Promise.race([closed, late]);
        clearTimeout(timer);
        if (child.exitCode === null && child.signalCode === null) {
          if (!failed)
            c.log(`zeromq: worker pid ${child.pid} did not exit within ${graceMs} ms; killing it`);
          child.kill('SIGKILL');
          await closed;
        } else if (!failed && child.exitCode !== 0) {
          c.log(
            `zeromq: worker pid ${child.pid} exited with ${child.exitCode ?? child.signalCode} after the stage succeeded`,
          );
        }
      }),
    );
  }
}

/** The arguments that run a worker process: plain node from compiled code, tsx for TypeScript. */
function workerCommand(ref: StageRef): string[] {
  const here = fileURLToPath(import.meta.url);
  const fromSource = here.endsWith('.ts');
  const main = join(dirname(here), fromSource ? 'zmq-worker-main.ts' : 'zmq-worker-main.js');
  // A TypeScript stage needs tsx in the worker even when kiban itself runs compiled.
  if (!fromSource && !/\.[mc]?ts$/.test(ref.module)) return [main];
  const tsx = pathToFileURL(createRequire(import.meta.url).resolve('tsx')).href;
  return ['--import', tsx, main];
}

function portOf(endpoint: string | null): string {
  const port = endpoint === null ? undefined : /:(\d+)$/.exec(endpoint)?.[1];
  if (port === undefined)
    throw new Error(`zeromq: cannot read the bound port of ${String(endpoint)}`);
  return port;
}

/** The result of one completed collective round, from every rank's part in rank order. */
function reduce(round: Round): { dtype?: Dtype; payload: Buffer } {
  const first = round.parts[0].message;
  if (round.kind === 'allreduce') {
    for (const { message } of round.parts) {
      if (message.dtype !== first.dtype || message.op !== first.op)
        throw new Error('allreduce: every rank must pass the same array type and op');
    }
    const dtype = first.dtype ?? 'f64';
    const result = reduceInRankOrder(
      round.parts.map((p) => bytesToArray(p.payload, dtype)),
      first.op ?? 'sum',
    );
    return { dtype, payload: arrayBytes(result) };
  }
  if (round.kind === 'broadcast') {
    const root = first.root ?? 0;
    if (!Number.isInteger(root) || root < 0 || root >= round.parts.length)
      throw new Error(`broadcast: root ${root} is not a main rank`);
    return { payload: round.parts[root].payload };
  }
  return { payload: Buffer.alloc(0) };
}
