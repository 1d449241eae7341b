/**
 * Derives the demo raw event log (events.csv.gz) from the bundled MovieLens ratings, so the
 * pipeline's aggregate step has realistic input: several event types per (user, item), exact
 * duplicate events to remove, and epoch-second timestamps. Deterministic; rerun with
 *   npx tsx datasets/ml-events/make-events.ts
 */
import { DuckDBInstance } from '@duckdb/node-api';

const ratings = 'datasets/ml-latest-small/ratings.csv';
const out = 'datasets/ml-events/events.csv.gz';
const instance = await DuckDBInstance.create(':memory:');
const con = await instance.connect();
await con.run(`
  COPY (
    WITH r AS (SELECT "userId" AS u, "movieId" AS i, rating, "timestamp" AS t FROM read_csv('${ratings}', header = true))
    SELECT u AS "user", i AS item, event, value, t AS "timestamp" FROM (
      -- Every rating was preceded by a view of the title a minute earlier.
      SELECT u, i, 'view' AS event, 1.0 AS value, t - 60 AS t FROM r
      -- Ratings of 4 stars or more also count as a like, a second after the rating.
      UNION ALL SELECT u, i, 'like', 1.0, t + 1 FROM r WHERE rating >= 4
      -- About 1% of views were logged twice (an at-least-once logger): exact duplicates.
      UNION ALL SELECT u, i, 'view', 1.0, t - 60 FROM r WHERE (u * 31 + i) % 97 = 0
    )
    ORDER BY t, "user", item, event
  ) TO '${out}' (HEADER, COMPRESSION gzip)`);
const counts = await con.runAndReadAll(`SELECT event, count(*) AS n FROM read_csv('${out}') GROUP BY event ORDER BY event`);
console.log(counts.getRowObjectsJson());
con.closeSync();
instance.closeSync();
