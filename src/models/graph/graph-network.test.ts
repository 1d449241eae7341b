import { describe, expect, it } from 'vitest';
import { Random } from '../../core/random.js';
import {
  GRAPH_PARAMS,
  type GraphAggregator,
  GraphNetwork,
  type GraphNetworkShape,
  type GraphParamName,
  type ItemFeatureRows,
} from './graph-network.js';

interface Variant {
  userScale: 'mean' | 'sqrt' | 'unit';
  temperature: number;
}

/**
 * A small network with random weights and one fixed sampled sub-graph: 12 items, dim 8, 4 first
 * hops with 3 second hops each (or none), 3 softmax targets.
 */
function smallNetwork(
  aggregator: GraphAggregator,
  fanout2: number,
  tied: boolean,
  userScale: 'mean' | 'sqrt' | 'unit' = 'sqrt',
  temperature = 0,
  extra: Partial<GraphNetworkShape> = {},
  features?: ItemFeatureRows,
): GraphNetwork {
  const net = GraphNetwork.create(
    {
      aggregator,
      dim: 8,
      heads: aggregator === 'attention' ? 2 : 1,
      nItems: 12,
      maxNeighbours: 4,
      fanout2,
      maxTargets: 3,
      maxEmbedItems: 16,
      tied,
      userScale,
      temperature,
      itemBias: true,
      maskInputs: false,
      ...extra,
    },
    features,
  );
  if (net === null) throw new Error('run "npm run build:wasm" first');
  const rng = new Random(3);
  for (const name of GRAPH_PARAMS) rng.fillGaussian(net.param(name), 0.5);
  net.refreshInputs();
  net.neighbours.set([1, 4, 7, 10]);
  if (fanout2 > 0) net.hops.set([0, 2, 3, 5, 6, 1, 8, 9, 11, 2, 4, 0]);
  net.targets.set([2, 5, 7]);
  return net;
}

/** Largest violation of |analytic − numeric| ≤ 2e-3 + 2e-2·|numeric| over every entry of `name`. */
function gradientCheck(
  net: GraphNetwork,
  name: GraphParamName,
  step: () => number = () => net.step(4, 3, 1),
): { worst: number; checked: number } {
  net.grads.fill(0);
  step();
  net.finishGradients();
  const analytic = Float32Array.from(net.grad(name));
  const values = net.param(name);
  const eps = 1e-3;
  let worst = 0;
  for (let x = 0; x < values.length; x++) {
    const keep = values[x];
    values[x] = keep + eps;
    net.refreshInputs();
    const plus = step();
    values[x] = keep - eps;
    net.refreshInputs();
    const minus = step();
    values[x] = keep;
    net.refreshInputs();
    const numeric = (plus - minus) / (2 * eps);
    const excess = Math.abs(analytic[x] - numeric) - (2e-3 + 2e-2 * Math.abs(numeric));
    worst = Math.max(worst, excess);
  }
  net.grads.fill(0);
  return { worst, checked: values.length };
}

// Which tensors sit behind which layer: the loss and output layer (Q, bias), the user layer's
// dense transform (W2, b2), the item layer's (W1, b1), the attention vectors of each layer, and
// the input embeddings E behind both aggregators (with fanout2 0, E feeds the user layer's
// aggregator directly; otherwise it also feeds the item layer's, as self and as neighbours).
const layers: [string, GraphAggregator, number, GraphParamName[], Partial<Variant>][] = [
  ['softmax loss and output layer', 'mean', 3, ['Q', 'bias'], {}],
  [
    'softmax loss over cosine scores (τ 5)',
    'mean',
    3,
    ['Q', 'bias', 'W2', 'E'],
    { temperature: 5 },
  ],
  ['user layer: dense', 'mean', 3, ['W2', 'b2'], {}],
  ['user layer: mean aggregator', 'mean', 0, ['E'], {}],
  ['user layer: mean aggregator (mean, not sum/√n)', 'mean', 0, ['E'], { userScale: 'mean' }],
  ['user layer: mean aggregator (unit length)', 'mean', 3, ['E', 'W2'], { userScale: 'unit' }],
  [
    'user layer: multi-head attention (unit length)',
    'attention',
    3,
    ['E', 'ar2', 'al2'],
    { userScale: 'unit' },
  ],
  ['item layer: dense', 'mean', 3, ['W1', 'b1'], {}],
  ['item layer: mean aggregator over second hops', 'mean', 3, ['E'], {}],
  ['user layer: multi-head attention', 'attention', 0, ['al2', 'ar2', 'W2', 'b2', 'E'], {}],
  ['item layer: multi-head attention', 'attention', 3, ['al1', 'ar1', 'W1', 'b1', 'E', 'Q'], {}],
];

describe('GraphNetwork gradients against central finite differences', () => {
  for (const [layer, aggregator, fanout2, names, variant] of layers) {
    for (const tied of [false, true]) {
      it(`${layer}${tied ? ' (tied item tables)' : ''}: ${names.join(', ')}`, () => {
        const net = smallNetwork(
          aggregator,
          fanout2,
          tied,
          variant.userScale ?? 'sqrt',
          variant.temperature ?? 0,
        );
        // Tied, the output table is E itself: its gradient is checked as E's.
        for (const name of names.filter((n) => !(tied && n === 'Q'))) {
          const { worst, checked } = gradientCheck(net, name);
          expect(checked).toBeGreaterThan(0);
          expect(worst, `${name}`).toBeLessThanOrEqual(0);
        }
      });
    }
  }

  it('has non-trivial gradients for every tensor the model uses', () => {
    const net = smallNetwork('attention', 3, false);
    net.step(4, 3, 1);
    // al2 scores the user's own mean, a term every neighbour's logit shares: it moves the
    // weights only through LeakyReLU's kink, so its gradient may be (nearly) zero.
    for (const name of GRAPH_PARAMS.filter((n) => n !== 'al2' && n !== 'P'))
      expect(
        net.grad(name).some((g) => Math.abs(g) > 1e-4),
        name,
      ).toBe(true);
  });

  it('scales the accumulated gradient by c and adds across steps', () => {
    const net = smallNetwork('mean', 3, false);
    net.step(4, 3, 1);
    const once = Float32Array.from(net.grads);
    net.grads.fill(0);
    net.step(4, 3, 0.5);
    net.step(4, 3, 0.5);
    for (let x = 0; x < once.length; x++) expect(net.grads[x]).toBeCloseTo(once[x], 5);
  });
});

/** Side features of the 12 items: 5 columns, multi-hot and numeric, items 3 and 8 without any. */
function smallFeatures(): ItemFeatureRows {
  const rows: [number, number][][] = [
    [[0, 1]],
    [
      [1, 1],
      [4, 0.7],
    ],
    [
      [2, 1],
      [4, -1.2],
    ],
    [],
    [
      [0, 1],
      [3, 1],
    ],
    [[1, 1]],
    [
      [2, 1],
      [3, 1],
      [4, 0.3],
    ],
    [
      [0, 1],
      [4, 1.5],
    ],
    [],
    [[3, 1]],
    [
      [1, 1],
      [2, 1],
    ],
    [[4, -0.4]],
  ];
  const indptr = new Int32Array(13);
  const indices: number[] = [];
  const values: number[] = [];
  rows.forEach((row, i) => {
    for (const [f, v] of row) {
      indices.push(f);
      values.push(v);
    }
    indptr[i + 1] = indices.length;
  });
  return {
    nFeatures: 5,
    indptr,
    indices: Int32Array.from(indices),
    values: Float32Array.from(values),
  };
}

describe('GraphNetwork with item side features (x = E + P·f)', () => {
  const cases: [string, GraphAggregator, number, GraphParamName[]][] = [
    ['user layer: mean aggregator', 'mean', 0, ['P', 'E', 'W2']],
    ['item layer: mean aggregator', 'mean', 3, ['P', 'E', 'W1']],
    ['item layer: multi-head attention', 'attention', 3, ['P', 'E', 'al1', 'ar1']],
  ];
  for (const [layer, aggregator, fanout2, names] of cases)
    for (const tied of [false, true])
      it(`${layer}${tied ? ' (tied)' : ''}: ${names.join(', ')} against finite differences`, () => {
        const net = smallNetwork(aggregator, fanout2, tied, 'sqrt', 0, {}, smallFeatures());
        expect(net.hasFeatures).toBe(true);
        for (const name of names) {
          const { worst, checked } = gradientCheck(net, name);
          expect(checked).toBeGreaterThan(0);
          expect(worst, name).toBeLessThanOrEqual(0);
        }
      });

  it('feeds P·f into the inputs, and folds it into E for a network without features', () => {
    const feats = smallFeatures();
    const net = smallNetwork('mean', 0, true, 'sqrt', 0, {}, feats);
    const loss = net.step(4, 3, 1);
    expect(net.grad('P').some((g) => g !== 0)).toBe(false); // until finishGradients
    net.finishGradients();
    expect(net.grad('P').some((g) => Math.abs(g) > 1e-4)).toBe(true);
    // Item 1 = E₁ + 1·P₁ + 0.7·P₄, item 3 (no features) = E₃.
    const out = net.outputItems();
    const E = net.param('E');
    const P = net.param('P');
    for (let x = 0; x < 8; x++) {
      expect(out[8 + x]).toBeCloseTo(E[8 + x] + P[8 + x] + 0.7 * P[32 + x], 5);
      expect(out[24 + x]).toBeCloseTo(E[24 + x], 6);
    }
    const plain = smallNetwork('mean', 0, true);
    plain.params.set(net.foldedParams());
    expect(plain.step(4, 3, 1)).toBeCloseTo(loss, 5);
  });
});

describe('GraphNetwork sampled softmax (in-batch, random and hard negatives, logQ)', () => {
  function sampledNetwork(aggregator: GraphAggregator, tied: boolean): GraphNetwork {
    const net = smallNetwork(aggregator, 3, tied, 'sqrt', 0, {
      maxNegatives: 6,
      hardNegatives: 2,
      maxHardPool: 5,
      maskInputs: true,
    });
    // Negatives: 5 and 7 are targets (accidental hits, left out), 4 an input (masked); then a pool.
    net.negatives.set([0, 5, 9, 11, 4, 7, 3, 6, 8, 2, 0]);
    net.negativeLogQ.set([-1, -2, -0.5, -1.5, -1, -2, -2.2, -2.2, -2.2, -2.2, -2.2]);
    return net;
  }
  const step = (net: GraphNetwork) => () => net.step(4, 3, 1, 4, 6, 5);

  for (const aggregator of ['mean', 'attention'] as const)
    for (const tied of [false, true])
      it(`${aggregator}${tied ? ' (tied)' : ''}: gradients against finite differences`, () => {
        const net = sampledNetwork(aggregator, tied);
        const names: GraphParamName[] = ['bias', 'W2', 'E', 'W1'];
        if (!tied) names.push('Q');
        for (const name of names) {
          const { worst, checked } = gradientCheck(net, name, step(net));
          expect(checked).toBeGreaterThan(0);
          expect(worst, name).toBeLessThanOrEqual(0);
        }
      });

  it('equals the softmax over targets, corrected negatives and the top-scoring pool items', () => {
    // No second hops: embed() then gives the training forward pass's u (see GraphNetwork.embed).
    const net = smallNetwork('mean', 0, false, 'sqrt', 0, {
      maxNegatives: 6,
      hardNegatives: 2,
      maxHardPool: 5,
      maskInputs: true,
    });
    net.negatives.set([0, 5, 9, 11, 4, 7, 3, 6, 8, 2, 0]);
    net.negativeLogQ.set([-1, -2, -0.5, -1.5, -1, -2, -2.2, -2.1, -2.0, -1.9, -1.8]);
    net.freezeItems(() => {});
    const u = new Float32Array(8);
    net.embed([1, 4, 7, 10], u, 0);
    net.neighbours.set([1, 4, 7, 10]);
    const loss = net.step(4, 3, 1, 4, 6, 5);
    const Q = net.param('Q');
    const bias = net.param('bias');
    const dot = (j: number) => {
      let s = 0;
      for (let x = 0; x < 8; x++) s += u[x] * Q[j * 8 + x];
      return s;
    };
    // Targets 2, 5, 7; negatives 0, 9, 11 (5 and 7 are targets, 4 an input: left out); the pool's
    // two best by u·Qⱼ among 3, 6, 8, 0 (2 is a target), each with its pool entry's logQ.
    const pool = [3, 6, 8, 0].map((j, s) => ({ j, q: [-2.2, -2.1, -2.0, -1.8][s], s: dot(j) }));
    pool.sort((a, b) => b.s - a.s);
    const logits = [
      ...[2, 5, 7].map((j) => dot(j) + bias[j]),
      ...[
        [0, -1],
        [9, -0.5],
        [11, -1.5],
      ].map(([j, q]) => dot(j) + bias[j] - q),
      ...pool.slice(0, 2).map(({ j, q }) => dot(j) + bias[j] - q),
    ];
    const max = Math.max(...logits);
    const logZ = max + Math.log(logits.reduce((a, x) => a + Math.exp(x - max), 0));
    const expected = -(logits[0] + logits[1] + logits[2] - 3 * logZ) / 3;
    expect(loss).toBeCloseTo(expected, 4);
  });
});

describe('GraphNetwork.embed', () => {
  it('embeds a user from frozen item rows the same way training embeds it', () => {
    for (const aggregator of ['mean', 'attention'] as const) {
      const net = smallNetwork(aggregator, 0, false);
      // With no second hops, the frozen rows are the input embeddings: the training forward pass
      // and embed must then give the same user vector, so the same scores.
      net.freezeItems(() => {});
      net.neighbours.set([1, 4, 7, 10]); // freezeItems used the buffer
      const u = new Float32Array(8);
      net.embed([1, 4, 7, 10], u, 0);
      const Q = net.param('Q');
      const bias = net.param('bias');
      const scores = Array.from({ length: 12 }, (_, j) => {
        let s = bias[j];
        for (let x = 0; x < 8; x++) s += u[x] * Q[j * 8 + x];
        return s;
      });
      const max = Math.max(...scores);
      const logZ = max + Math.log(scores.reduce((s, x) => s + Math.exp(x - max), 0));
      const loss = -[2, 5, 7].reduce((s, j) => s + scores[j] - logZ, 0) / 3;
      expect(net.step(4, 3, 1)).toBeCloseTo(loss, 4);
    }
  });

  it('is independent of the order of the items and gives zero for no items', () => {
    const net = smallNetwork('attention', 3, false);
    const rng = new Random(1);
    net.freezeItems((_, out) => {
      for (let s = 0; s < out.length; s++) out[s] = rng.nextInt(12);
    });
    const a = new Float32Array(8);
    const b = new Float32Array(8);
    net.embed([3, 9, 0], a, 0);
    net.embed([0, 3, 9], b, 0);
    for (let x = 0; x < 8; x++) expect(b[x]).toBeCloseTo(a[x], 5);
    net.embed([], b, 0);
    expect(Array.from(b)).toEqual(new Array(8).fill(0));
  });
});
