/**
 * Minimum-count pruning of a bipartite (user, item) pair list, on dense indices.
 *
 * Keeps the largest set of pairs in which every user has at least `minUserItems` distinct items
 * and every item at least `minItemUsers` distinct users (the (minUser, minItem)-core). Like
 * `aggregateEvents` (src/pipeline/aggregate.ts) it alternates rounds (items below their minimum first, then users) until
 * a round removes nothing; the core is unique, so any order of removal reaches the same set.
 *
 * @param pairUsers - dense user index of every pair (pairs must be distinct)
 * @param pairItems - dense item index of every pair
 * @returns `alive[p]` = 1 for pairs that survive, 0 otherwise
 */
export function minimumCountCore(
  pairUsers: Int32Array,
  pairItems: Int32Array,
  nUsers: number,
  nItems: number,
  minUserItems: number,
  minItemUsers: number,
): Uint8Array {
  const n = pairUsers.length;
  const alive = new Uint8Array(n).fill(1);
  const userCount = new Int32Array(nUsers);
  const itemCount = new Int32Array(nItems);
  for (let p = 0; p < n; p++) {
    userCount[pairUsers[p]]++;
    itemCount[pairItems[p]]++;
  }
  // Each round is O(pairs); the number of rounds is small in practice (aggregate.ts caps it at
  // 100), and every round that changes something removes at least one pair, so it terminates.
  for (;;) {
    const removedItems = removeBelow(
      alive,
      pairItems,
      itemCount,
      minItemUsers,
      pairUsers,
      userCount,
    );
    const removedUsers = removeBelow(
      alive,
      pairUsers,
      userCount,
      minUserItems,
      pairItems,
      itemCount,
    );
    if (removedItems + removedUsers === 0) return alive;
  }
}

/**
 * Removes every live pair whose `side` index has a count below `min` (counts taken at the start
 * of the pass, as one SQL `DELETE … WHERE x IN (SELECT … HAVING count(*) < min)` does), updating
 * both sides' counts. Returns the number of pairs removed.
 */
function removeBelow(
  alive: Uint8Array,
  side: Int32Array,
  sideCount: Int32Array,
  min: number,
  other: Int32Array,
  otherCount: Int32Array,
): number {
  if (min <= 1) return 0;
  const below = new Uint8Array(sideCount.length);
  for (let x = 0; x < sideCount.length; x++)
    below[x] = sideCount[x] > 0 && sideCount[x] < min ? 1 : 0;
  let removed = 0;
  for (let p = 0; p < alive.length; p++) {
    if (alive[p] === 0 || below[side[p]] === 0) continue;
    alive[p] = 0;
    sideCount[side[p]]--;
    otherCount[other[p]]--;
    removed++;
  }
  return removed;
}
