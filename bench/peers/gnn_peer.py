#!/usr/bin/env python3
"""A straightforward PyTorch GraphSAGE recommender, the peer of kiban's `graphsage` defaults.

Used by bench/gnn.ts, which runs it on the same files in the same run and scores the top-k
lists it writes with kiban's own evaluation code (so the metric code path is the same).

The design mirrors kiban's defaults (src/models/graph/graph-recommender.ts, graph-network.ts):
  - items have a learned embedding E (items x dim, N(0, 0.05)); users have no parameters;
  - a user's vector from a set of its items: q = mean of their E rows (mean aggregator, one
    layer: kiban's default fanout2 = 0 leaves the item layer out), u = W2 q + b2 + q
    (W2 ~ N(0, 0.5/sqrt(dim)), b2 = 0);
  - scores s_j = u . E_j (tied input/output table, no item bias), full softmax over all items;
  - each training step: a user's items shuffled, each kept as input with probability 0.2
    (at least one), the dropped ones are the softmax targets (all items when none dropped);
    the user's loss is the mean cross-entropy over its targets times (targets / mean targets);
  - mini-batches of 16 users in a shuffled order, AdamW (betas 0.9/0.999, eps 1e-8, decoupled
    weight decay 0.3 on every tensor), lr 0.05 x 0.9^epoch, 30 epochs;
  - served users (warm or held out) are embedded from all their training items; their own
    items are left out of their top-k, ties go to the lower item index.

Usage:
  gnn_peer.py --train TRAIN.csv --out LISTS.json [--cold-users IDS.txt] [--threads 2] [--k 10]
The last printed line is a JSON object with the fit seconds and the settings; LISTS.json holds
{"users": [...], "lists": [[item ids best first], ...]} for every training user (held-out ones
included, embedded from their items).
"""
import argparse
import csv
import json
import time

import numpy as np
import torch
import torch.nn.functional as F


def read_pairs(path):
    with open(path, newline="") as f:
        rows = csv.DictReader(f)
        return [(int(r["userId"]), int(r["movieId"])) for r in rows]


def user_items(pairs):
    """Distinct items per user (external ids), users and items ascending."""
    by_user = {}
    for u, i in pairs:
        by_user.setdefault(u, set()).add(i)
    return {u: sorted(items) for u, items in sorted(by_user.items())}


class GraphSage(torch.nn.Module):
    def __init__(self, n_items, dim, init_std, gen):
        super().__init__()
        self.E = torch.nn.Parameter(torch.randn(n_items, dim, generator=gen) * init_std)
        self.W2 = torch.nn.Parameter(torch.randn(dim, dim, generator=gen) * (0.5 / dim**0.5))
        self.b2 = torch.nn.Parameter(torch.zeros(dim))

    def users(self, flat, offsets):
        """Vectors of users whose input items are flat[offsets[b]:offsets[b+1]]."""
        q = F.embedding_bag(flat, self.E, offsets, mode="mean")
        return q @ self.W2.T + self.b2 + q

    def scores(self, u):
        return u @ self.E.T


def train(model, rows, args, rng):
    n_users = len(rows)
    nnz = sum(len(r) for r in rows)
    mean_targets = args.dropout * nnz / n_users
    opt = torch.optim.AdamW(
        model.parameters(), lr=args.lr, betas=(0.9, 0.999), eps=1e-8, weight_decay=args.weight_decay
    )
    losses = []
    for epoch in range(args.epochs):
        for group in opt.param_groups:
            group["lr"] = args.lr * args.lr_decay**epoch
        order = rng.permutation(n_users)
        total = 0.0
        for start in range(0, n_users, args.batch):
            batch = order[start : start + args.batch]
            flat, offsets, t_rows, t_cols, t_w = [], [], [], [], []
            for b, u in enumerate(batch):
                items = rows[u].copy()
                rng.shuffle(items)
                keep = rng.random_sample(len(items)) >= args.dropout
                if not keep.any():
                    keep[-1] = True
                inputs, targets = items[keep], items[~keep]
                if len(targets) == 0:
                    targets = items
                offsets.append(len(flat))
                flat.extend(inputs.tolist())
                w = (len(targets) / mean_targets) / len(targets)
                t_rows.extend([b] * len(targets))
                t_cols.extend(targets.tolist())
                t_w.extend([w] * len(targets))
            u = model.users(torch.tensor(flat), torch.tensor(offsets))
            logp = F.log_softmax(model.scores(u), dim=1)
            picked = logp[torch.tensor(t_rows), torch.tensor(t_cols)]
            loss = -(picked * torch.tensor(t_w)).sum() / len(batch)
            opt.zero_grad(set_to_none=True)
            loss.backward()
            opt.step()
            total += loss.item()
        losses.append(total / ((n_users + args.batch - 1) // args.batch))
    return losses


@torch.no_grad()
def top_k(model, rows, k):
    flat = torch.tensor(np.concatenate(rows))
    offsets = torch.tensor(np.cumsum([0] + [len(r) for r in rows[:-1]]))
    scores = model.scores(model.users(flat, offsets)).numpy()
    lists = []
    for r, seen in enumerate(rows):
        s = scores[r].astype(np.float64)
        s[seen] = -np.inf
        best = np.lexsort((np.arange(len(s)), -s))[:k]  # score desc, item index asc
        lists.append(best)
    return lists


def main():
    p = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    p.add_argument("--train", required=True)
    p.add_argument("--out", required=True)
    p.add_argument("--cold-users", help="file of user ids (one a line) held out of training")
    p.add_argument("--k", type=int, default=10)
    p.add_argument("--threads", type=int, default=2)
    p.add_argument("--dim", type=int, default=64)
    p.add_argument("--epochs", type=int, default=30)
    p.add_argument("--batch", type=int, default=16)
    p.add_argument("--lr", type=float, default=0.05)
    p.add_argument("--lr-decay", type=float, default=0.9)
    p.add_argument("--weight-decay", type=float, default=0.3)
    p.add_argument("--dropout", type=float, default=0.8)
    p.add_argument("--init-std", type=float, default=0.05)
    p.add_argument("--seed", type=int, default=42)
    args = p.parse_args()
    torch.set_num_threads(args.threads)

    by_user = user_items(read_pairs(args.train))
    cold = set()
    if args.cold_users:
        with open(args.cold_users) as f:
            cold = {int(line) for line in f if line.strip()}
    warm_users = [u for u in by_user if u not in cold]
    item_ids = sorted({i for u in warm_users for i in by_user[u]})
    index = {i: x for x, i in enumerate(item_ids)}
    as_rows = lambda users: [
        np.array([index[i] for i in by_user[u] if i in index], dtype=np.int64) for u in users
    ]
    warm_rows = as_rows(warm_users)

    gen = torch.Generator().manual_seed(args.seed)
    model = GraphSage(len(item_ids), args.dim, args.init_std, gen)
    rng = np.random.RandomState(args.seed)
    started, cpu = time.perf_counter(), time.process_time()
    losses = train(model, warm_rows, args, rng)
    fit_seconds = time.perf_counter() - started
    fit_cpu_seconds = time.process_time() - cpu

    users = list(by_user)
    rows = as_rows(users)
    lists = top_k(model, rows, args.k)
    with open(args.out, "w") as f:
        json.dump({"users": users, "lists": [[item_ids[x] for x in l] for l in lists]}, f)
    print(
        json.dumps(
            {
                "peer": "pytorch graphsage",
                "torch": torch.__version__,
                "threads": torch.get_num_threads(),
                "fitSeconds": round(fit_seconds, 3),
                "fitCpuSeconds": round(fit_cpu_seconds, 3),
                "warmUsers": len(warm_users),
                "coldUsers": len(users) - len(warm_users),
                "items": len(item_ids),
                "loss": [round(x, 4) for x in losses],
            }
        )
    )


if __name__ == "__main__":
    main()
