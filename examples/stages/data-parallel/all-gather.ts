import type { StageContext } from '../../../src/stages/stage.js';

/**
 * Every main rank's `value`, in rank order, on every rank (MPI's allgather), built from
 * `size` broadcasts: rank r broadcasts its value in round r. Every rank must call it at the same
 * point, like any collective. Costs `size` rounds and sends every value to every rank, so it is
 * for modest payloads (ids, a shard of integer pairs), not for streams of records.
 */
export async function allGather<T>(
  ctx: Pick<StageContext, 'rank' | 'size' | 'broadcast'>,
  value: T,
): Promise<T[]> {
  const out: T[] = [];
  for (let root = 0; root < ctx.size; root++)
    out.push((await ctx.broadcast<T | null>(root === ctx.rank ? value : null, root)) as T);
  return out;
}
