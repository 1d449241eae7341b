/**
 * Off-policy evaluation on the bundled Open Bandit Dataset random logs (men: 34 items, women: 46
 * items; 10,000 impressions each, 3 positions, uniform random logging): for the uniform random
 * policy (the logging policy itself: its estimates must match the observed click rate) and every
 * kiban policy trained on the first 70% of the log, every estimator's value and 95% bootstrap
 * interval on the last 30%, and the time of each phase (reading, policy training, reward model
 * with its cross-validated L2, target probabilities, estimators with 200 resamples).
 *
 *   npx tsx bench/bandits-ope.ts [--campaigns men,women] [--resamples 200] [--samples 200] [--train-fraction 0.7] [--seed 0]
 *
 * Last line: one JSON object with every figure and the machine.
 */
import { availableParallelism, cpus, loadavg, totalmem } from 'node:os';
import { performance } from 'node:perf_hooks';
import { parseArgs } from 'node:util';
import { ESTIMATORS } from '../src/bandits/ope/estimate-policy-value.js';
import { readObdLog } from '../src/bandits/ope/read-obd-log.js';
import { runOpe, TARGET_POLICIES, type OpeReport } from '../src/bandits/ope/run-ope.js';

const { values: args } = parseArgs({
  options: {
    campaigns: { type: 'string', default: 'men,women' },
    resamples: { type: 'string', default: '200' },
    samples: { type: 'string', default: '200' },
    'train-fraction': { type: 'string', default: '0.7' },
    seed: { type: 'string', default: '0' },
    json: { type: 'boolean', default: false },
  },
});

const loadStart = loadavg();
const started = performance.now();
const campaigns: Record<
  string,
  {
    readSeconds: number;
    rows: number;
    actions: number;
    contextDim: number;
    policies: Record<string, Omit<OpeReport, 'log'>>;
  }
> = {};
for (const campaign of args.campaigns.split(',')) {
  const t = performance.now();
  const log = await readObdLog(`datasets/open-bandit-random/${campaign}/${campaign}.csv`);
  const readSeconds = (performance.now() - t) / 1000;
  process.stderr.write(
    `${campaign}: ${log.rows} rows, ${log.actions.length} items, context ${log.contextDim}, read in ${readSeconds.toFixed(2)} s\n`,
  );
  const policies: Record<string, Omit<OpeReport, 'log'>> = {};
  for (const policy of TARGET_POLICIES) {
    const { log: _source, ...report } = runOpe(log, {
      policy,
      estimators: ESTIMATORS,
      resamples: Number(args.resamples),
      samples: Number(args.samples),
      trainFraction: Number(args['train-fraction']),
      seed: Number(args.seed),
    });
    policies[policy] = report;
    const cells = ESTIMATORS.map((e) => {
      const x = report.estimates[e]!;
      return `${e} ${(x.value * 100).toFixed(3)}% [${(x.ci[0] * 100).toFixed(3)}, ${(x.ci[1] * 100).toFixed(3)}]`;
    });
    process.stderr.write(
      `  ${policy.padEnd(8)} observed ${(report.observed.value * 100).toFixed(3)}% | ${cells.join(' | ')} | ESS ${report.weights.effectiveSampleSize.toFixed(0)} | l2 ${report.rewardModel?.l2} | ${report.seconds.total.toFixed(2)} s (train ${report.seconds.train}, model ${report.seconds.rewardModel}, probs ${report.seconds.probabilities}, estimate ${report.seconds.estimate})\n`,
    );
  }
  campaigns[campaign] = {
    readSeconds: Number(readSeconds.toFixed(3)),
    rows: log.rows,
    actions: log.actions.length,
    contextDim: log.contextDim,
    policies,
  };
}

process.stdout.write(
  `${JSON.stringify({
    bench: 'bandits-ope',
    settings: {
      resamples: Number(args.resamples),
      samples: Number(args.samples),
      trainFraction: Number(args['train-fraction']),
      seed: Number(args.seed),
      level: 0.95,
    },
    campaigns,
    totalSeconds: Number(((performance.now() - started) / 1000).toFixed(2)),
    machine: {
      cores: availableParallelism(),
      cpu: cpus()[0]?.model ?? 'unknown',
      memoryGiB: Math.round(totalmem() / 2 ** 30),
      node: process.version,
      loadavgStart: loadStart.map((x) => Number(x.toFixed(2))),
      loadavgEnd: loadavg().map((x) => Number(x.toFixed(2))),
    },
  })}\n`,
);
