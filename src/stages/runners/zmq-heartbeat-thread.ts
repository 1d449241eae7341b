/**
 * The thread that sends a ZeroMQ stage worker's heartbeats to the coordinator. It owns a DEALER
 * socket of its own, connected to the coordinator's control address, and beats from its own
 * event loop, so that stage code which blocks the worker's main thread synchronously for
 * seconds is not taken for dead. Each beat names the routing id of the worker's control socket
 * (`{ t: 'heartbeat', of }`), which is how the coordinator knows whose beat it is.
 *
 * The worker's main thread starts it with {@link startWorker} (see `runZmqWorker`), `unref`s it
 * and stops it when the worker ends; the thread also stops when its parent's port closes.
 *
 * @module
 */
import { parentPort, workerData } from 'node:worker_threads';
import * as zmq from 'zeromq';
import { encodeControl } from './zmq-protocol.js';

/** What a worker's main thread gives its heartbeat thread. */
export interface HeartbeatThreadSetup {
  kibanZmqHeartbeat: true;
  /** The coordinator's control address, `tcp://HOST:PORT`. */
  coordinator: string;
  /** The routing id of the worker's control socket: the worker every beat speaks for. */
  of: string;
  /** Time between beats. */
  intervalMs: number;
}

/** Messages from the heartbeat thread: `ready` once its socket is connected and beating. */
export type FromHeartbeatThread = { type: 'ready' };

/** Messages to the heartbeat thread: `stop` closes its socket and ends the thread. */
export type ToHeartbeatThread = { type: 'stop' };

function beat(setup: HeartbeatThreadSetup, port: NonNullable<typeof parentPort>): void {
  // No linger: a beat still queued when the worker ends is worth nothing.
  const socket = new zmq.Dealer({ linger: 0, sendHighWaterMark: 4 });
  socket.connect(setup.coordinator);
  const frames = encodeControl({ t: 'heartbeat', of: setup.of });
  // One beat in flight at most: while the coordinator is unreachable, beats are skipped rather
  // than queued (a late pile of them would speak for a worker that may be gone by then).
  let sending = false;
  const send = (): void => {
    if (sending || socket.closed) return;
    sending = true;
    socket.send(frames).then(
      () => (sending = false),
      () => (sending = false), // closed while waiting for the coordinator: nothing to do
    );
  };
  const timer = setInterval(send, setup.intervalMs);
  let stopped = false;
  const stop = (): void => {
    if (stopped) return;
    stopped = true;
    clearInterval(timer);
    socket.close();
    port.close(); // nothing else keeps this thread's event loop alive: the thread ends
  };
  port.on('message', (message: ToHeartbeatThread) => {
    if (message.type === 'stop') stop();
  });
  // The parent's end of the port closes when the worker's main thread is gone.
  port.once('close', stop);
  send();
  port.postMessage({ type: 'ready' } satisfies FromHeartbeatThread);
}

const setup = workerData as Partial<HeartbeatThreadSetup> | null | undefined;
if (parentPort !== null && setup?.kibanZmqHeartbeat === true) {
  beat(setup as HeartbeatThreadSetup, parentPort);
}
