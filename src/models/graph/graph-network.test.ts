import { describe, expect, it } from 'vitest';
import { Random } from '../../core/random.js';
import {
  GRAPH_PARAMS,
  type GraphAggregator,
  GraphNetwork,
  type GraphParamName,
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
): GraphNetwork {
  const net = GraphNetwork.create({
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
  });
  if (net === null) throw new Error('run "npm run build:wasm" first');
  const rng = new Random(3);
  for (const name of GRAPH_PARAMS) rng.fillGaussian(net.param(name), 0.5);
  net.neighbours.set([1, 4, 7, 10]);
  if (fanout2 > 0) net.hops.set([0, 2, 3, 5, 6, 1, 8, 9, 11, 2, 4, 0]);
  net.targets.set([2, 5, 7]);
  return net;
}

/** Largest violation of |analytic − numeric| ≤ 2e-3 + 2e-2·|numeric| over every entry of `name`. */
function gradientCheck(
  net: GraphNetwork,
  name: GraphParamName,
): { worst: number; checked: number } {
  net.grads.fill(0);
  net.step(4, 3, 1);
  const analytic = Float32Array.from(net.grad(name));
  const values = net.param(name);
  const eps = 1e-3;
  let worst = 0;
  for (let x = 0; x < values.length; x++) {
    const keep = values[x];
    values[x] = keep + eps;
    const plus = net.step(4, 3, 1);
    values[x] = keep - eps;
    const minus = net.step(4, 3, 1);
    values[x] = keep;
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
    for (const name of GRAPH_PARAMS.filter((n) => n !== 'al2'))
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
