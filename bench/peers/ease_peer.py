#!/usr/bin/env python3
"""Reference EASE (Steck 2019) in plain Python + numpy + scipy.

The "peer" kiban's bench/ease.ts runs side by side with its own EASE. Same protocol as
recs_peer.py: binary X from the train file (duplicates collapse), G = X^T X + lambda*I,
P = inv(G), B = -P / diag(P) column-wise with diag(B) = 0, scores = X_u B, the user's train
items excluded, ties by item index, every test user counted (zero hits if unknown).

The last printed line is a JSON object with the metrics and the fit seconds.
"""
import argparse
import json
import time

import numpy as np

from recs_peer import evaluate, read_pairs
import scipy.sparse as sp


def fit_ease(X, lam):
    G = (X.T @ X).toarray().astype(np.float64)
    G[np.diag_indices_from(G)] += lam
    P = np.linalg.inv(G)
    B = P / (-np.diag(P))
    B[np.diag_indices_from(B)] = 0.0
    return lambda users: np.asarray(X[users] @ B)


if __name__ == "__main__":
    ap = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    ap.add_argument("--train", default="datasets/ml-latest-small/splits/train.csv")
    ap.add_argument("--test", default="datasets/ml-latest-small/splits/test.csv")
    ap.add_argument("--lambda", dest="lam", type=float, default=400.0)
    ap.add_argument("--k", type=int, default=10)
    args = ap.parse_args()

    train = read_pairs(args.train)
    user_ids = sorted({u for u, _ in train})
    item_ids = sorted({i for _, i in train})
    user_index = {u: n for n, u in enumerate(user_ids)}
    item_index = {i: n for n, i in enumerate(item_ids)}
    rows = [user_index[u] for u, _ in train]
    cols = [item_index[i] for _, i in train]
    X = sp.csr_matrix((np.ones(len(train)), (rows, cols)), shape=(len(user_ids), len(item_ids)))
    X.sum_duplicates()
    X.data[:] = 1.0
    X.sort_indices()
    test_sets = {}
    for u, i in read_pairs(args.test):
        test_sets.setdefault(u, set()).add(i)

    t0 = time.perf_counter()
    score_fn = fit_ease(X, args.lam)
    fit_seconds = time.perf_counter() - t0
    metrics = evaluate(score_fn, X, test_sets, user_index, item_ids, args.k)
    metrics["fitSeconds"] = fit_seconds
    print(" ".join(f"{key}={val:.4f}" for key, val in metrics.items()))
    print(json.dumps({"peer": "numpy", "numpy": np.__version__, "lambda": args.lam,
                      "items": len(item_ids), "users": len(user_ids), "ease": metrics}))
