#!/usr/bin/env python3
"""Reference recommender evaluation in plain Python + numpy + scipy.

A "peer" implementation used by the kiban benchmark to compare side by side
with the TypeScript models. It reads a MovieLens-style train/test split
(CSV header: userId,movieId,rating,timestamp), treats every train row as an
implicit positive (binary 1, duplicates collapse), fits the requested models
and evaluates top-k ranking metrics for every user with at least one test row.

Models:
  popularity  score = number of train users per item
  itemknn     cosine item-item similarity on the binary matrix, top-50
              neighbours per item, user score = sum of neighbour similarities
  als         implicit ALS (Hu, Koren, Volinsky 2008) with exact solves

Ranking excludes the user's train items; ties are broken by item id ascending.
The last printed line is a JSON object with all metrics and fit times.
"""
import argparse
import csv
import json
import math
import time

import numpy as np
import scipy.sparse as sp


def read_pairs(path):
    with open(path, newline="") as f:
        rows = csv.DictReader(f)
        return [(int(r["userId"]), int(r["movieId"])) for r in rows]


def fit_popularity(X):
    pop = np.asarray(X.sum(axis=0)).ravel().astype(np.float64)
    return lambda users: np.tile(pop, (len(users), 1))


def fit_itemknn(X, K=50):
    n_items = X.shape[1]
    counts = np.asarray(X.sum(axis=0)).ravel().astype(np.float64)
    co = (X.T @ X).tocsr().astype(np.float64)
    co.setdiag(0)
    co.eliminate_zeros()
    rows, cols, vals = [], [], []
    for i in range(n_items):
        lo, hi = co.indptr[i], co.indptr[i + 1]
        js = co.indices[lo:hi]
        sims = co.data[lo:hi] / np.sqrt(counts[i] * counts[js])
        order = np.lexsort((js, -sims))[:K]  # similarity desc, item index asc
        rows.append(np.full(len(order), i))
        cols.append(js[order])
        vals.append(sims[order])
    W = sp.csr_matrix((np.concatenate(vals), (np.concatenate(rows), np.concatenate(cols))),
                      shape=(n_items, n_items))
    return lambda users: np.asarray((X[users] @ W).todense())


def als_half_step(R, Y, alpha, reg):
    """Solve every row of R exactly given the other side's factors Y."""
    f = Y.shape[1]
    YtY = Y.T @ Y + reg * np.eye(f)
    out = np.zeros((R.shape[0], f))
    for u in range(R.shape[0]):
        idx = R.indices[R.indptr[u]:R.indptr[u + 1]]
        if len(idx) == 0:
            continue
        Yu = Y[idx]
        A = YtY + alpha * (Yu.T @ Yu)       # Yu^T (Cu - I) Yu with c = 1 + alpha
        b = (1.0 + alpha) * Yu.sum(axis=0)  # Yu^T Cu p with p = 1
        out[u] = np.linalg.solve(A, b)
    return out


def fit_als(X, factors=64, reg=30.0, alpha=3.0, iterations=15, seed=0):
    rng = np.random.RandomState(seed)
    n_users, n_items = X.shape
    U = rng.normal(0.0, 0.01, (n_users, factors))
    V = rng.normal(0.0, 0.01, (n_items, factors))
    Xt = X.T.tocsr()
    for _ in range(iterations):
        U = als_half_step(X, V, alpha, reg)
        V = als_half_step(Xt, U, alpha, reg)
    return lambda users: U[users] @ V.T


def evaluate(score_fn, X, test_sets, user_index, item_ids, k, batch=256):
    n_items = X.shape[1]
    users = sorted(test_sets)
    known = [u for u in users if u in user_index]
    prec = rec = ndcg = ap = 0.0
    recommended = set()
    discounts = 1.0 / np.log2(np.arange(2, k + 2))
    for start in range(0, len(known), batch):
        chunk = known[start:start + batch]
        idx = [user_index[u] for u in chunk]
        scores = score_fn(idx).astype(np.float64)
        for row, (u, ui) in enumerate(zip(chunk, idx)):
            s = scores[row]
            seen = X.indices[X.indptr[ui]:X.indptr[ui + 1]]
            s[seen] = -np.inf
            order = np.argsort(-s, kind="stable")[:k]  # stable: ties by item index asc
            order = order[np.isfinite(s[order])]
            recommended.update(order.tolist())
            test = test_sets[u]
            hits = np.array([1.0 if item_ids[j] in test else 0.0 for j in order])
            n_hit = hits.sum()
            prec += n_hit / k
            rec += n_hit / len(test)
            idcg = discounts[:min(len(test), k)].sum()
            ndcg += (hits * discounts[:len(hits)]).sum() / idcg
            cum = np.cumsum(hits) / np.arange(1, len(hits) + 1)
            ap += (cum * hits).sum() / min(len(test), k)
    n = len(users)  # users in test but not in train count with zero hits
    return {f"precision@{k}": prec / n, f"recall@{k}": rec / n, f"ndcg@{k}": ndcg / n,
            f"map@{k}": ap / n, "coverage": len(recommended) / n_items}


MODELS = {"popularity": fit_popularity, "itemknn": fit_itemknn, "als": fit_als}

if __name__ == "__main__":
    ap_ = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    ap_.add_argument("--train", default="datasets/ml-latest-small/splits/train.csv")
    ap_.add_argument("--test", default="datasets/ml-latest-small/splits/test.csv")
    ap_.add_argument("--models", default="popularity,itemknn,als")
    ap_.add_argument("--k", type=int, default=10)
    args = ap_.parse_args()

    train = read_pairs(args.train)
    user_ids = sorted({u for u, _ in train})
    item_ids = sorted({i for _, i in train})
    user_index = {u: n for n, u in enumerate(user_ids)}
    item_index = {i: n for n, i in enumerate(item_ids)}
    rows = [user_index[u] for u, _ in train]
    cols = [item_index[i] for _, i in train]
    X = sp.csr_matrix((np.ones(len(train)), (rows, cols)), shape=(len(user_ids), len(item_ids)))
    X.sum_duplicates()
    X.data[:] = 1.0  # duplicates collapse to a single binary positive
    X.sort_indices()

    test_sets = {}
    for u, i in read_pairs(args.test):
        test_sets.setdefault(u, set()).add(i)

    results = {}
    for name in [m.strip() for m in args.models.split(",") if m.strip()]:
        t0 = time.perf_counter()
        score_fn = MODELS[name](X)
        fit_seconds = time.perf_counter() - t0
        metrics = evaluate(score_fn, X, test_sets, user_index, item_ids, args.k)
        metrics["fitSeconds"] = fit_seconds
        results[name] = metrics
        print(f"{name:<11} " + " ".join(
            f"{key}={val:.4f}" for key, val in metrics.items()))
    print(json.dumps({"peer": "numpy", "numpy": np.__version__, "models": results}))
