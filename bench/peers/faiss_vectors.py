#!/usr/bin/env python3
"""The faiss peer of bench/vectors.ts: the same searches on the same .fvecs files.

Run with Debian's python3-faiss (/usr/bin/python3). One mode per call, so that the benchmark can
interleave it with kiban's own phases:

  flat  IndexFlatIP over the base vectors: batch search of every query on 1 and 2 threads
        (faiss.omp_set_num_threads), then one query at a time on 1 thread (p50/p99).
  hnsw  IndexHNSWFlat(d, M, METRIC_INNER_PRODUCT) with efConstruction set, built on 2 threads
        (or --build-threads), then at each efSearch: batch search on 1 and 2 threads and one
        query at a time on 1 thread.

Batch times are the best of --repeats runs (the machine is shared; the best run is the one
least disturbed), as bench/vectors.ts does for kiban; on one thread also queries per CPU second
of the searching thread (time.thread_time), which the other work on the machine does not distort. The neighbours found (int32, queries x k,
row-major) are written to OUT_PREFIX.<name>.i32 for bench/vectors.ts to score against its exact
ground truth. Memory: the serialized index bytes and the growth of this process's resident set
over the build. Progress on stderr; the last printed line is one JSON object.

  /usr/bin/python3 bench/peers/faiss_vectors.py --mode hnsw --base base.fvecs \
      --queries queries.fvecs --out /tmp/x/faiss --k 10 --ef 16,32,64,128
"""
import argparse
import json
import sys
import time

import faiss
import numpy as np


def read_fvecs(path):
    raw = np.fromfile(path, dtype=np.int32)
    dim = int(raw[0])
    return raw.reshape(-1, dim + 1)[:, 1:].view(np.float32).copy()


def rss_bytes():
    with open("/proc/self/status") as f:
        for line in f:
            if line.startswith("VmRSS:"):
                return int(line.split()[1]) * 1024
    return 0


def progress(message):
    sys.stderr.write(f"  faiss: {message}\n")
    sys.stderr.flush()


def best_batch_seconds(index, queries, k, repeats):
    """Best wall and best CPU seconds (this thread; on one thread faiss searches in it)."""
    best = float("inf")
    best_cpu = float("inf")
    found = None
    for _ in range(repeats):
        c0 = time.thread_time()
        t0 = time.perf_counter()
        _, found = index.search(queries, k)
        best = min(best, time.perf_counter() - t0)
        best_cpu = min(best_cpu, time.thread_time() - c0)
    return best, best_cpu, found


def single_query(index, queries, k, repeats, count):
    """One query per search call on one thread, `repeats` passes over the first `count` queries:
    p50/p99 in ms of the pass with the lowest p99, the p99 over all passes, and p50/p99 of the
    thread's CPU time per query (as bench/vectors.ts reports for kiban)."""
    faiss.omp_set_num_threads(1)
    passes = []
    cpu = []
    for _ in range(repeats):
        times = np.empty(count)
        for i in range(count):
            q = queries[i : i + 1]
            c0 = time.thread_time()
            t0 = time.perf_counter()
            index.search(q, k)
            times[i] = time.perf_counter() - t0
            cpu.append(time.thread_time() - c0)
        passes.append(times * 1e3)
    best = min(passes, key=lambda t: np.percentile(t, 99))
    cpu = np.array(cpu) * 1e3
    return {
        "p50Ms": round(float(np.percentile(best, 50)), 4),
        "p99Ms": round(float(np.percentile(best, 99)), 4),
        "p99AllMs": round(float(np.percentile(np.concatenate(passes), 99)), 4),
        "cpuP50Ms": round(float(np.percentile(cpu, 50)), 4),
        "cpuP99Ms": round(float(np.percentile(cpu, 99)), 4),
    }


def searches(index, queries, k, repeats, out, name, single_count):
    """Batch q/s on 1 and 2 threads and single-query latency; writes the 2-thread answers."""
    figures = {}
    found = None
    for threads in (1, 2):
        faiss.omp_set_num_threads(threads)
        seconds, cpu_seconds, found = best_batch_seconds(index, queries, k, repeats)
        figures[f"qps{threads}"] = round(len(queries) / seconds, 1)
        if threads == 1:
            figures["cpuQps1"] = round(len(queries) / cpu_seconds, 1)
    found.astype(np.int32).tofile(f"{out}.{name}.i32")
    figures.update(single_query(index, queries, k, repeats, single_count))
    return figures


def main():
    parser = argparse.ArgumentParser(description=__doc__.split("\n")[0])
    parser.add_argument("--mode", choices=["flat", "hnsw"], required=True)
    parser.add_argument("--base", required=True)
    parser.add_argument("--queries", required=True)
    parser.add_argument("--out", required=True, help="prefix of the neighbour files written")
    parser.add_argument("--k", type=int, default=10)
    parser.add_argument("--ef", default="16,32,64,128")
    parser.add_argument("--m", type=int, default=16)
    parser.add_argument("--ef-construction", type=int, default=200)
    parser.add_argument("--build-threads", type=int, default=2)
    parser.add_argument("--repeats", type=int, default=3)
    parser.add_argument("--single-queries", type=int, default=0, help="0: every query")
    args = parser.parse_args()

    base = read_fvecs(args.base)
    queries = read_fvecs(args.queries)
    n, dim = base.shape
    single_count = args.single_queries or len(queries)
    result = {"faiss": faiss.__version__, "numpy": np.__version__, "n": n, "dim": dim}

    rss0 = rss_bytes()
    faiss.omp_set_num_threads(args.build_threads)
    t0 = time.perf_counter()
    if args.mode == "flat":
        index = faiss.IndexFlatIP(dim)
        index.add(base)
    else:
        index = faiss.IndexHNSWFlat(dim, args.m, faiss.METRIC_INNER_PRODUCT)
        index.hnsw.efConstruction = args.ef_construction
        step = max(1, n // 10)
        for start in range(0, n, step):
            index.add(base[start : start + step])
            progress(f"HNSW build {min(n, start + step)}/{n} ({time.perf_counter() - t0:.1f} s)")
    result["buildSeconds"] = round(time.perf_counter() - t0, 3)
    result["rssGrowthBytes"] = rss_bytes() - rss0
    result["indexBytes"] = int(faiss.serialize_index(index).size)

    if args.mode == "flat":
        result["search"] = searches(
            index, queries, args.k, args.repeats, args.out, "flat", single_count
        )
    else:
        result["efs"] = {}
        for ef in (int(e) for e in args.ef.split(",")):
            index.hnsw.efSearch = ef
            result["efs"][str(ef)] = searches(
                index, queries, args.k, args.repeats, args.out, f"hnsw{ef}", single_count
            )
            progress(f"HNSW ef {ef} searched")
    print(json.dumps(result))


if __name__ == "__main__":
    main()
