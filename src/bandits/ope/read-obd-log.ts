/**
 * Reader of the Open Bandit Dataset (OBD) CSV layout (Saito et al., 2021; the `obp` library's
 * `OpenBanditDataset`): a log `{campaign}.csv` plus `item_context.csv` describing the items.
 */
import { dirname, join } from 'node:path';
import { DataError } from '../../core/errors.js';
import type { BanditLog } from './bandit-log.js';
import { readCsvLines } from './csv-lines.js';
import { GrowableFloat64, GrowableInt32 } from './growable.js';

/** Options of {@link readObdLog}. */
export interface ReadObdLogOptions {
  /** The item features file. @defaultValue `item_context.csv` in the log's directory */
  itemContext?: string;
}

const PROPENSITY_COLUMNS = ['propensity_score', 'action_prob'];
const AFFINITY_PREFIX = 'user-item_affinity_';
const USER_PREFIX = 'user_feature_';

/**
 * Reads an OBD log. Columns used: `item_id`, `position` (1-based), `click`, `propensity_score`
 * (or `action_prob`), every `user_feature_*` (hashed categories) and every
 * `user-item_affinity_<item id>`; `timestamp` is optional and other columns (the unnamed pandas
 * index) are ignored.
 *
 * The context of a row, which the target policies and the reward model see, is the one-hot
 * encoding of each user feature (categories in sorted order) followed by the user's affinity to
 * every item (in dense action order; `actionContextStart` points at that block). Items' features
 * come from `item_context.csv`: a column whose every value is a number stays numeric, any other
 * is one-hot encoded. Actions are the item ids of `item_context.csv` in numeric order.
 *
 * Consecutive rows with the same timestamp and user features form one round (the slots of one
 * recommendation); without a timestamp column every row is its own round.
 *
 * @throws DataError naming file, line and column for a missing column, an unknown item, a
 *   position below 1, a propensity outside (0, 1], or a field that is not a number.
 * @example
 * const log = await readObdLog('datasets/open-bandit-random/men/men.csv');
 */
export async function readObdLog(
  path: string,
  options: ReadObdLogOptions = {},
): Promise<BanditLog> {
  const itemPath = options.itemContext ?? join(dirname(path), 'item_context.csv');
  const items = await readItemContext(itemPath);
  const k = items.ids.length;
  const denseOfItem = new Map<string, number>();
  items.ids.forEach((id, a) => denseOfItem.set(id, a));

  let col = { item: -1, position: -1, click: -1, propensity: -1, timestamp: -1 };
  let userCols: number[] = [];
  let userNames: string[] = [];
  /** Field index of the affinity column of each dense action, or -1. */
  let affinityCol = new Int32Array(0);
  let header: string[] = [];
  const vocab: Map<string, number>[] = [];

  const action = new GrowableInt32();
  const position = new GrowableInt32();
  const reward = new GrowableFloat64();
  const propensity = new GrowableFloat64();
  const round = new GrowableInt32();
  const userCodes = new GrowableInt32();
  const affinity = new GrowableFloat64();
  let maxPosition = 0;
  let roundKey = '';
  let rounds = -1;

  await readCsvLines(
    path,
    (names) => {
      header = names;
      const find = (name: string): number => names.indexOf(name);
      const need = (name: string): number => {
        const at = find(name);
        if (at < 0)
          throw new DataError(
            { file: path, line: 1, column: name },
            `missing required column "${name}"; the header has ${names.map((n) => `"${n}"`).join(', ')}`,
          );
        return at;
      };
      const propensityAt = PROPENSITY_COLUMNS.map(find).find((at) => at >= 0);
      if (propensityAt === undefined)
        throw new DataError(
          { file: path, line: 1, column: 'propensity_score' },
          'missing the propensity column ("propensity_score" or "action_prob")',
        );
      col = {
        item: need('item_id'),
        position: need('position'),
        click: need('click'),
        propensity: propensityAt,
        timestamp: find('timestamp'),
      };
      userCols = names.flatMap((n, at) => (n.startsWith(USER_PREFIX) ? [at] : []));
      userNames = userCols.map((at) => names[at]);
      userCols.forEach(() => vocab.push(new Map()));
      affinityCol = new Int32Array(k).fill(-1);
      names.forEach((n, at) => {
        if (!n.startsWith(AFFINITY_PREFIX)) return;
        const a = denseOfItem.get(n.slice(AFFINITY_PREFIX.length));
        if (a === undefined)
          throw new DataError(
            { file: path, line: 1, column: n },
            `affinity to item "${n.slice(AFFINITY_PREFIX.length)}", which ${itemPath} does not list`,
          );
        affinityCol[a] = at;
      });
    },
    (fields, line) => {
      const where = (c: number): { file: string; line: number; column: string } => ({
        file: path,
        line,
        column: header[c],
      });
      const a = denseOfItem.get(fields[col.item].trim());
      if (a === undefined)
        throw new DataError(where(col.item), `item "${fields[col.item]}" is not in ${itemPath}`);
      const pos = Number(fields[col.position]);
      if (!Number.isInteger(pos) || pos < 1)
        throw new DataError(
          where(col.position),
          `position must be an integer from 1, got "${fields[col.position]}"`,
        );
      const r = Number(fields[col.click]);
      if (fields[col.click].trim() === '' || !Number.isFinite(r))
        throw new DataError(
          where(col.click),
          `reward must be a number, got "${fields[col.click]}"`,
        );
      const p = Number(fields[col.propensity]);
      if (fields[col.propensity].trim() === '' || !(p > 0 && p <= 1))
        throw new DataError(
          where(col.propensity),
          `propensity must be in (0, 1], got "${fields[col.propensity]}"`,
        );
      action.push(a);
      position.push(pos - 1);
      if (pos > maxPosition) maxPosition = pos;
      reward.push(r);
      propensity.push(p);
      let key = col.timestamp >= 0 ? fields[col.timestamp] : null;
      userCols.forEach((c, u) => {
        const value = fields[c];
        let code = vocab[u].get(value);
        if (code === undefined) {
          code = vocab[u].size;
          vocab[u].set(value, code);
        }
        userCodes.push(code);
        if (key !== null) key += `\u0000${value}`;
      });
      if (key === null || key !== roundKey) rounds++;
      roundKey = key ?? '';
      round.push(rounds);
      for (let b = 0; b < k; b++) {
        const c = affinityCol[b];
        if (c < 0) {
          affinity.push(0);
          continue;
        }
        const text = fields[c];
        const v = text.trim() === '' ? Number.NaN : Number(text);
        if (!Number.isFinite(v))
          throw new DataError(where(c), `affinity must be a number, got "${text}"`);
        affinity.push(v);
      }
    },
  );
  const rows = action.length;
  if (rows === 0) throw new DataError({ file: path }, 'the log has no rows');

  // One-hot blocks in sorted category order, so the encoding does not depend on row order.
  const sortedCode = vocab.map((m) => {
    const values = [...m.keys()].sort();
    const remap = new Int32Array(m.size);
    values.forEach((v, sorted) => (remap[m.get(v) as number] = sorted));
    return { values, remap };
  });
  const offsets: number[] = [];
  let width = 0;
  for (const s of sortedCode) {
    offsets.push(width);
    width += s.values.length;
  }
  const actionContextStart = width;
  const contextDim = width + k;
  const context = new Float64Array(rows * contextDim);
  const codes = userCodes.view();
  const affinities = affinity.view();
  const u = userCols.length;
  for (let i = 0; i < rows; i++) {
    const row = i * contextDim;
    for (let j = 0; j < u; j++)
      context[row + offsets[j] + sortedCode[j].remap[codes[i * u + j]]] = 1;
    context.set(affinities.subarray(i * k, (i + 1) * k), row + actionContextStart);
  }
  const contextNames = [
    ...sortedCode.flatMap((s, j) => s.values.map((v) => `${userNames[j]}=${v}`)),
    ...items.ids.map((id) => `${AFFINITY_PREFIX}${id}`),
  ];
  return {
    source: path,
    rows,
    actions: items.ids,
    positions: maxPosition,
    action: action.view(),
    position: position.view(),
    reward: reward.view(),
    propensity: propensity.view(),
    round: round.view(),
    slots: new Int32Array(rows).fill(maxPosition),
    contextDim,
    context,
    contextNames,
    actionContextStart,
    actionFeatureDim: items.featureNames.length,
    actionFeatures: items.features,
    actionFeatureNames: items.featureNames,
    candidates: null,
  };
}

interface ItemContext {
  /** Item ids in numeric order. */
  ids: string[];
  features: Float64Array;
  featureNames: string[];
}

/** Reads `item_context.csv`: `item_id` plus feature columns (numeric kept, others one-hot). */
async function readItemContext(path: string): Promise<ItemContext> {
  let idCol = -1;
  let featureCols: number[] = [];
  let header: string[] = [];
  const rows: { id: number; values: string[] }[] = [];
  const seen = new Map<number, number>();
  await readCsvLines(
    path,
    (names) => {
      header = names;
      idCol = names.indexOf('item_id');
      if (idCol < 0)
        throw new DataError(
          { file: path, line: 1, column: 'item_id' },
          'missing required column "item_id"',
        );
      // The unnamed first column is pandas' index, not a feature.
      featureCols = names.flatMap((n, at) => (at !== idCol && n !== '' ? [at] : []));
    },
    (fields, line) => {
      const text = fields[idCol].trim();
      const id = Number(text);
      if (text === '' || !Number.isInteger(id) || id < 0)
        throw new DataError(
          { file: path, line, column: 'item_id' },
          `item id must be a non-negative integer, got "${fields[idCol]}"`,
        );
      const before = seen.get(id);
      if (before !== undefined)
        throw new DataError(
          { file: path, line, column: 'item_id' },
          `item ${id} is listed twice (first on line ${before})`,
        );
      seen.set(id, line);
      rows.push({ id, values: featureCols.map((c) => fields[c].trim()) });
    },
  );
  if (rows.length === 0) throw new DataError({ file: path }, 'no items listed');
  rows.sort((x, y) => x.id - y.id);
  const blocks = featureCols.map((c, j) => {
    const values = rows.map((r) => r.values[j]);
    const numeric = values.every((v) => v !== '' && Number.isFinite(Number(v)));
    const categories = numeric ? [] : [...new Set(values)].sort();
    return { name: header[c], numeric, categories };
  });
  const featureNames = blocks.flatMap((b) =>
    b.numeric ? [b.name] : b.categories.map((v) => `${b.name}=${v}`),
  );
  const width = featureNames.length;
  const features = new Float64Array(rows.length * width);
  rows.forEach((r, a) => {
    let at = a * width;
    blocks.forEach((b, j) => {
      if (b.numeric) features[at++] = Number(r.values[j]);
      else {
        features[at + b.categories.indexOf(r.values[j])] = 1;
        at += b.categories.length;
      }
    });
  });
  return { ids: rows.map((r) => String(r.id)), features, featureNames };
}
