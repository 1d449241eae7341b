// Regenerates the example feature data from the bundled MovieLens ratings (deterministic):
//   node examples/features/make-data.mjs [OUT_DIR]   (default: this directory)
// data/user_stats.csv  per user (ids 1–150) and UTC day with ratings: that day's count and mean
//                      rating and the running total, stamped at the end of the day (epoch seconds).
// data/movie_stats.csv per movie (the 15 most rated) and calendar month with ratings: the running
//                      count and mean rating, stamped at the end of the month (epoch seconds).
// entities.csv         label rows for `kiban features historical`: an evenly spaced sample of
//                      about 300 ratings of users 1–150 (user_id, event_time in epoch seconds).
import { mkdirSync, readFileSync, writeFileSync } from 'node:fs';
import { dirname, join } from 'node:path';
import { fileURLToPath } from 'node:url';

const here = dirname(fileURLToPath(import.meta.url));
const out = process.argv[2] ?? here;
mkdirSync(join(out, 'data'), { recursive: true });
const ratings = readFileSync(join(here, '../../datasets/ml-latest-small/ratings.csv'), 'utf8')
  .trim()
  .split('\n')
  .slice(1)
  .map((line) => {
    const [user, movie, rating, ts] = line.split(',');
    return { user: Number(user), movie: Number(movie), rating: Number(rating), ts: Number(ts) };
  })
  .sort((a, b) => a.ts - b.ts || a.user - b.user || a.movie - b.movie);

const round = (x) => Math.round(x * 1000) / 1000;

// Per user and day.
const users = ratings.filter((r) => r.user <= 150);
const days = new Map();
for (const r of users) {
  const key = `${r.user},${Math.floor(r.ts / 86400)}`;
  const d = days.get(key) ?? { user: r.user, day: Math.floor(r.ts / 86400), n: 0, sum: 0 };
  d.n += 1;
  d.sum += r.rating;
  days.set(key, d);
}
const totals = new Map();
const userRows = [...days.values()]
  .sort((a, b) => a.day - b.day || a.user - b.user)
  .map((d) => {
    const total = (totals.get(d.user) ?? 0) + d.n;
    totals.set(d.user, total);
    return `${d.user},${(d.day + 1) * 86400},${d.n},${round(d.sum / d.n)},${total}`;
  });
writeFileSync(
  join(out, 'data/user_stats.csv'),
  `user_id,event_time,ratings_1d,mean_rating_1d,ratings_total\n${userRows.join('\n')}\n`,
);

// Per movie and month, running totals.
const counts = new Map();
for (const r of ratings) counts.set(r.movie, (counts.get(r.movie) ?? 0) + 1);
const top = new Set(
  [...counts.entries()]
    .sort((a, b) => b[1] - a[1] || a[0] - b[0])
    .slice(0, 15)
    .map(([m]) => m),
);
const monthEnd = (ts) => {
  const d = new Date(ts * 1000);
  return Date.UTC(d.getUTCFullYear(), d.getUTCMonth() + 1, 1) / 1000;
};
const running = new Map();
const months = new Map();
for (const r of ratings) {
  if (!top.has(r.movie)) continue;
  const s = running.get(r.movie) ?? { n: 0, sum: 0 };
  s.n += 1;
  s.sum += r.rating;
  running.set(r.movie, s);
  months.set(`${r.movie},${monthEnd(r.ts)}`, {
    movie: r.movie,
    at: monthEnd(r.ts),
    n: s.n,
    mean: s.sum / s.n,
  });
}
const movieRows = [...months.values()]
  .sort((a, b) => a.at - b.at || a.movie - b.movie)
  .map((m) => `${m.movie},${m.at},${m.n},${round(m.mean)}`);
writeFileSync(
  join(out, 'data/movie_stats.csv'),
  `movie_id,event_time,ratings_total,mean_rating\n${movieRows.join('\n')}\n`,
);

// Label rows.
const step = Math.ceil(users.length / 300);
const labels = users.filter((_, i) => i % step === 0);
writeFileSync(
  join(out, 'entities.csv'),
  `user_id,event_time\n${labels.map((r) => `${r.user},${r.ts}`).join('\n')}\n`,
);
