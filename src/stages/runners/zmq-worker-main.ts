/**
 * Entry script of a ZeroMQ stage worker process, as spawned by {@link ZmqStageRunner}:
 *   node [--import tsx] zmq-worker-main.(ts|js) --coordinator tcp://HOST:PORT [--bind HOST] [--advertise HOST]
 * Exit status: 0 when the stage succeeded (or the worker was not needed), 1 when this worker's
 * function failed or the coordinator went away, 2 when the stage failed elsewhere.
 */
import { parseArgs } from 'node:util';
import { runZmqWorker } from './zmq-worker.js';

const { values } = parseArgs({
  options: {
    coordinator: { type: 'string' },
    bind: { type: 'string' },
    advertise: { type: 'string' },
  },
  strict: true,
});
if (values.coordinator === undefined) {
  process.stderr.write(
    'usage: zmq-worker-main --coordinator tcp://HOST:PORT [--bind HOST] [--advertise HOST]\n',
  );
  process.exit(1);
}
try {
  const { outcome } = await runZmqWorker({
    coordinator: values.coordinator,
    ...(values.bind === undefined ? {} : { bind: values.bind }),
    ...(values.advertise === undefined ? {} : { advertise: values.advertise }),
  });
  // Exit explicitly: a stage may leave handles open (a database, a timer) that must not keep a
  // finished worker alive.
  process.exit(outcome === 'done' || outcome === 'dismissed' ? 0 : outcome === 'aborted' ? 2 : 1);
} catch (error) {
  process.stderr.write(
    `kiban stage worker: ${error instanceof Error ? error.message : String(error)}\n`,
  );
  process.exit(1);
}
