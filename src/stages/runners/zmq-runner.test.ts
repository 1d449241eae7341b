import { spawn, type ChildProcess } from 'node:child_process';
import { existsSync } from 'node:fs';
import { mkdtemp, rm } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import { join, resolve } from 'node:path';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { describeStageRunner } from '../../../test/contracts/stage-runner-contract.js';
import { StageFailedError } from '../runner.js';
import type { StageRef } from '../stage.js';
import { pack, speakerOf, unpack } from './zmq-protocol.js';
import { ZmqStageRunner, type ZmqWorkerInfo } from './zmq-runner.js';
import { runZmqWorker } from './zmq-worker.js';

// The contract every runner meets, here with every worker a process of its own.
describeStageRunner('zeromq', () => new ZmqStageRunner());

const SLOW = resolve(import.meta.dirname, '../../../test/fixtures/stages/slow-stages.ts');
const STAGES = resolve(import.meta.dirname, '../../../test/fixtures/stages/stages.ts');
const BLOCKING = resolve(import.meta.dirname, '../../../test/fixtures/stages/blocking-stages.ts');
const WORKER_MAIN = resolve(import.meta.dirname, 'zmq-worker-main.ts');
const ref = (module: string, name: string): StageRef => ({ module, export: name });
const records = (n: number): { id: number }[] => Array.from({ length: n }, (_, id) => ({ id }));

/** Whether a process with this pid still exists. */
function alive(pid: number): boolean {
  try {
    process.kill(pid, 0);
    return true;
  } catch {
    return false;
  }
}

/** Starts a worker as `kiban stage worker` would on another machine; resolves with its exit code. */
function startWorker(coordinator: string): {
  child: ChildProcess;
  exited: Promise<number | string | null>;
} {
  const child = spawn(
    process.execPath,
    ['--import', 'tsx', WORKER_MAIN, '--coordinator', coordinator],
    { stdio: ['ignore', 'ignore', 'pipe'] },
  );
  child.stderr!.resume();
  const exited = new Promise<number | string | null>((ok) =>
    child.once('exit', (code, signal) => ok(code ?? signal)),
  );
  return { child, exited };
}

describe('ZmqStageRunner (processes)', () => {
  let dir: string;
  beforeAll(async () => {
    dir = await mkdtemp(join(tmpdir(), 'kiban-zmq-'));
  });
  afterAll(async () => {
    await rm(dir, { recursive: true, force: true });
  });

  it('keeps typed arrays and Maps typed across processes', async () => {
    const result = await new ZmqStageRunner().run(ref(SLOW, 'typedArrays'), {
      source: { kind: 'records', records: records(30) },
      count: 2,
      batchSize: 4,
      log: () => {},
    });
    const outs = result.outputs as { kinds: string[]; f64: number; last: Float64Array }[];
    expect(outs).toHaveLength(2);
    for (const o of outs) {
      expect(o.kinds).toEqual(['Float32Array,Float64Array,Int32Array,Map']);
      expect(o.last).toBeInstanceOf(Float64Array);
    }
    expect(outs.reduce((s, o) => s + o.f64, 0)).toBeCloseTo((29 * 30) / 2 / 3, 9);
  });

  it('delivers every byte of many ~1 KB records intact while batches queue up (frame memory is reused)', async () => {
    // ~80 MB through two mains: each preprocess socket's 32 MiB frame ring comes round more
    // than once while main pauses and batches wait in ZeroMQ's queues.
    const n = 80_000;
    const result = await new ZmqStageRunner().run(ref(SLOW, 'integrity'), {
      source: { kind: 'records', records: records(n) },
      count: 2,
      batchSize: 512,
      log: () => {},
    });
    const outs = result.outputs as { n: number; bad: number }[];
    expect(outs.reduce((s, o) => s + o.n, 0)).toBe(n);
    expect(outs.map((o) => o.bad)).toEqual([0, 0]);
  }, 60_000);

  it('a SIGKILLed main worker fails the stage within seconds, leaves no output and no processes', async () => {
    const out = join(dir, 'killed');
    const workers: ZmqWorkerInfo[] = [];
    let started!: () => void;
    const mainStarted = new Promise<void>((ok) => (started = ok));
    const runner = new ZmqStageRunner({ onWorker: (w) => workers.push(w) });
    const running = runner
      .run(ref(SLOW, 'slowMain'), {
        source: { kind: 'records', records: records(2000) },
        sink: { kind: 'jsonl', path: out },
        count: 2,
        batchSize: 5,
        params: { sleepMs: 10 },
        log: (line) => {
          if (/main\[0\] started pid/.test(line)) started();
        },
      })
      .then(
        () => null,
        (e: unknown) => e,
      );
    await mainStarted;
    await new Promise((ok) => setTimeout(ok, 500)); // some outputs reach the sink first
    const victim = workers.find((w) => w.role === 'main' && w.rank === 0)!;
    process.kill(victim.pid, 'SIGKILL');
    // Told by the process's exit (the message names the signal), not by a heartbeat timing out.
    const error = await running;
    expect(error).toBeInstanceOf(StageFailedError);
    expect((error as Error).message).toMatch(
      new RegExp(
        `failed in main rank 0: process main rank 0 \\(pid ${victim.pid}, host .+\\) died: signal SIGKILL`,
      ),
    );
    expect(existsSync(out)).toBe(false);
    expect(workers.filter((w) => alive(w.pid))).toEqual([]);
  });

  it('after success every worker process has exited, with status 0', async () => {
    const workers: ZmqWorkerInfo[] = [];
    const lines: string[] = [];
    const result = await new ZmqStageRunner({ onWorker: (w) => workers.push(w) }).run(
      ref(STAGES, 'whoGotWhat'),
      {
        source: { kind: 'records', records: records(100) },
        numPreprocessors: 2,
        count: 2,
        batchSize: 8,
        log: (line) => lines.push(line),
      },
    );
    expect(result.records.read).toBe(100);
    expect(workers).toHaveLength(4);
    expect(workers.filter((w) => alive(w.pid))).toEqual([]);
    expect(lines.filter((l) => /exited with|did not exit/.test(l))).toEqual([]);
  });

  it('with spawn: false, runs on workers started separately that connect over TCP', async () => {
    let listening!: (address: string) => void;
    const address = new Promise<string>((ok) => (listening = ok));
    const runner = new ZmqStageRunner({
      spawn: false,
      listen: 'tcp://127.0.0.1:0',
      onListening: (a) => listening(a),
    });
    const running = runner.run(ref(STAGES, 'collectives'), {
      source: { kind: 'records', records: records(100) },
      count: 3,
      numPreprocessors: 1,
      batchSize: 7,
      log: () => {},
    });
    const workers = Array.from({ length: 4 }, async () => startWorker(await address));
    const result = await running;
    const outs = result.outputs as { rank: number; sum: number[] }[];
    expect(outs.map((o) => o.rank).sort()).toEqual([0, 1, 2]);
    for (const o of outs) expect(o.sum).toEqual([4950, 6]);
    expect(await Promise.all(workers.map(async (w) => (await w).exited))).toEqual([0, 0, 0, 0]);
  });

  it('with spawn: false, a remote worker that goes silent fails the stage: no heartbeat', async () => {
    let listening!: (address: string) => void;
    const address = new Promise<string>((ok) => (listening = ok));
    const workers: ZmqWorkerInfo[] = [];
    let started!: () => void;
    const mainStarted = new Promise<void>((ok) => (started = ok));
    const runner = new ZmqStageRunner({
      spawn: false,
      heartbeatTimeoutMs: 2000,
      onListening: (a) => listening(a),
      onWorker: (w) => workers.push(w),
    });
    const running = runner
      .run(ref(SLOW, 'slowMain'), {
        source: { kind: 'records', records: records(5000) },
        count: 1,
        numPreprocessors: 1,
        batchSize: 5,
        params: { sleepMs: 5 },
        log: (line) => {
          if (/main\[0\] started pid/.test(line)) started();
        },
      })
      .then(
        () => null,
        (e: unknown) => e,
      );
    const children = await Promise.all(
      Array.from({ length: 2 }, async () => startWorker(await address)),
    );
    try {
      await mainStarted;
      const victim = workers.find((w) => w.role === 'main')!;
      process.kill(victim.pid, 'SIGSTOP'); // alive but silent, like a machine cut off the network
      const error = await running;
      expect((error as Error).message).toMatch(
        new RegExp(
          `failed in main rank 0: process main rank 0 \\(pid ${victim.pid}, host .+\\) died: no heartbeat for 2 s`,
        ),
      );
      // The preprocess worker was told to abort and exits by itself.
      const pre = children.find((c) => c.child.pid !== victim.pid)!;
      expect(await pre.exited).toBe(2);
    } finally {
      for (const { child } of children)
        if (child.exitCode === null && child.signalCode === null) child.kill('SIGKILL');
    }
  });

  it('with spawn: false, a remote worker whose main blocks its thread for longer than the heartbeat timeout is not taken for dead', async () => {
    // The worker beats from a thread of its own while the stage blocks the main thread.
    const heartbeatTimeoutMs = 2000;
    let listening!: (address: string) => void;
    const address = new Promise<string>((ok) => (listening = ok));
    const runner = new ZmqStageRunner({
      spawn: false,
      heartbeatTimeoutMs,
      onListening: (a) => listening(a),
    });
    const n = 200;
    const running = runner.run(ref(BLOCKING, 'blockingMain'), {
      source: { kind: 'records', records: records(n) },
      count: 1,
      numPreprocessors: 1,
      batchSize: 10,
      params: { blockMs: 2.5 * heartbeatTimeoutMs },
      log: () => {},
    });
    const workers = Array.from({ length: 2 }, async () => startWorker(await address));
    try {
      const result = await running;
      expect(result.outputs).toEqual([{ n, sum: (n * (n - 1)) / 2 }]);
      expect(await Promise.all(workers.map(async (w) => (await w).exited))).toEqual([0, 0]);
    } finally {
      for (const { child } of await Promise.all(workers))
        if (child.exitCode === null && child.signalCode === null) child.kill('SIGKILL');
    }
  });

  it('a worker whose coordinator is gone gives up instead of lingering', async () => {
    await expect(
      runZmqWorker({ coordinator: 'tcp://127.0.0.1:9', coordinatorTimeoutMs: 1500, log: () => {} }),
    ).rejects.toThrow(/no word from the coordinator/);
  });

  it("a heartbeat thread's beat speaks for the control socket it names; other messages for their own socket", () => {
    const thread = Buffer.from('beat-socket');
    expect(speakerOf(thread, { t: 'heartbeat', of: 'kiban-worker-1' })).toEqual(
      Buffer.from('kiban-worker-1'),
    );
    expect(speakerOf(thread, { t: 'heartbeat' })).toBe(thread);
    expect(speakerOf(thread, { t: 'next' })).toBe(thread);
  });

  it('msgpack keeps typed arrays, Maps and nested records', () => {
    const value = {
      f32: Float32Array.of(1.5, -2),
      f64: Float64Array.of(Math.PI),
      i32: Int32Array.of(-7),
      m: new Map([['a', 1]]),
      nested: [{ x: null, y: 'z' }],
    };
    const back = unpack<typeof value>(pack(value));
    expect(back).toEqual(value);
    expect(back.f32).toBeInstanceOf(Float32Array);
    expect(back.i32).toBeInstanceOf(Int32Array);
    expect(back.m).toBeInstanceOf(Map);
  });
});
