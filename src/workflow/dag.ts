/**
 * Orders tasks so that every task comes after the tasks it needs (Kahn's algorithm, ties in
 * declaration order). Returns the order, or the tasks of one cycle (first task repeated at the
 * end, e.g. `[a, b, a]`) when there is none.
 */
export function topologicalOrder(
  needs: ReadonlyMap<string, readonly string[]>,
): { order: string[] } | { cycle: string[] } {
  const names = [...needs.keys()];
  const indegree = new Map(names.map((n) => [n, 0]));
  const dependents = new Map<string, string[]>(names.map((n) => [n, []]));
  for (const [task, deps] of needs) {
    for (const dep of deps) {
      if (!indegree.has(dep)) continue; // unknown names are reported elsewhere
      indegree.set(task, indegree.get(task)! + 1);
      dependents.get(dep)!.push(task);
    }
  }
  const ready = names.filter((n) => indegree.get(n) === 0);
  const order: string[] = [];
  while (ready.length > 0) {
    const task = ready.shift()!;
    order.push(task);
    for (const next of dependents.get(task)!) {
      indegree.set(next, indegree.get(next)! - 1);
      if (indegree.get(next) === 0) ready.push(next);
    }
  }
  if (order.length === names.length) return { order };
  return { cycle: findCycle(needs, new Set(names.filter((n) => indegree.get(n)! > 0))) };
}

/** One cycle among `left` (tasks the sort could not place), by walking needs until a repeat. */
function findCycle(needs: ReadonlyMap<string, readonly string[]>, left: Set<string>): string[] {
  let at = [...left][0];
  const path: string[] = [];
  const seen = new Map<string, number>();
  while (!seen.has(at)) {
    seen.set(at, path.length);
    path.push(at);
    at = needs.get(at)!.find((d) => left.has(d))!;
  }
  // path[seen(at)..] needs… at: reverse so the cycle reads in execution order (a before b).
  return [...path.slice(seen.get(at)!), at].reverse();
}
