"""The peer of bench/ab.ts: the same A/B analysis of the same CSV in Python with scipy.

Reads the CSV with the csv module, applies kiban's rules (rows with a missing or non-numeric
metric dropped, units seen in more than one variant excluded, the first row of a unit kept),
then runs scipy: a two-proportion z-test (pooled standard error, by formula on scipy's normal),
Welch's t-test (scipy.stats.ttest_ind, equal_var=False) and CUPED by numpy. Prints one JSON
object: the figures and the seconds taken. With --time COLUMN (times written
"YYYY-MM-DD hh:mm:ss" in UTC, as bench/ab.ts writes them), also the cumulative relative lift of
the rate per UTC day of each unit's earliest row.

    python3 bench/peers/ab_peer.py FILE.csv UNIT VARIANT METRIC [COVARIATE] [--alternative greater] [--time COLUMN]
"""
import csv
import json
import math
import sys
import time

import numpy as np
from scipy import stats


def number(text):
    text = text.strip()
    if text == "":
        return None
    low = text.lower()
    if low == "true":
        return 1.0
    if low == "false":
        return 0.0
    try:
        return float(text)
    except ValueError:
        return None


def main():
    time_col = sys.argv[sys.argv.index("--time") + 1] if "--time" in sys.argv else None
    args = [a for a in sys.argv[1:] if not a.startswith("--") and a != time_col]
    alternative = "greater" if "--alternative" in sys.argv and sys.argv[sys.argv.index("--alternative") + 1] == "greater" else "two-sided"
    args = [a for a in args if a not in ("greater", "less", "two-sided")]
    path, unit_col, variant_col, metric_col = args[:4]
    covariate_col = args[4] if len(args) > 4 else None
    started = time.perf_counter()
    first = {}
    variants_of = {}
    earliest = {}
    with open(path, newline="") as f:
        reader = csv.DictReader(f)
        for row in reader:
            unit = row[unit_col].strip()
            variant = row[variant_col].strip()
            y = number(row[metric_col])
            x = number(row[covariate_col]) if covariate_col else 0.0
            if unit == "" or variant == "" or y is None or x is None:
                continue
            if time_col:
                t = row[time_col].strip()
                if t == "":
                    continue
                if unit not in earliest or t < earliest[unit]:
                    earliest[unit] = t  # the fixed format sorts as text
            variants_of.setdefault(unit, set()).add(variant)
            if unit not in first:
                first[unit] = (variant, y, x)
    groups = {}
    for unit, (variant, y, x) in first.items():
        if len(variants_of[unit]) > 1:
            continue
        groups.setdefault(variant, ([], []))
        groups[variant][0].append(y)
        groups[variant][1].append(x)
    control, treatment = sorted(groups)
    yc, xc = (np.array(v) for v in groups[control])
    yt, xt = (np.array(v) for v in groups[treatment])
    out = {"units": {control: int(yc.size), treatment: int(yt.size)}}
    binary = bool(np.all((yc == 0) | (yc == 1)) and np.all((yt == 0) | (yt == 1)))
    if binary:
        pc, pt = yc.mean(), yt.mean()
        pooled = (yc.sum() + yt.sum()) / (yc.size + yt.size)
        z = (pt - pc) / math.sqrt(pooled * (1 - pooled) * (1 / yc.size + 1 / yt.size))
        p = stats.norm.sf(z) if alternative == "greater" else 2 * stats.norm.sf(abs(z))
        out.update({"test": "z", "statistic": float(z), "pValue": float(p), "difference": float(pt - pc)})
    else:
        r = stats.ttest_ind(yt, yc, equal_var=False, alternative=alternative)
        out.update({"test": "welch", "statistic": float(r.statistic), "pValue": float(r.pvalue), "difference": float(yt.mean() - yc.mean())})
        if covariate_col:
            y = np.concatenate([yc, yt])
            x = np.concatenate([xc, xt])
            theta = np.cov(y, x, ddof=1)[0, 1] / np.var(x, ddof=1)
            ac = yc - theta * (xc - x.mean())
            at = yt - theta * (xt - x.mean())
            r2 = stats.ttest_ind(at, ac, equal_var=False, alternative=alternative)
            out["cuped"] = {"theta": float(theta), "pValue": float(r2.pvalue), "difference": float(at.mean() - ac.mean())}
    if time_col and binary:
        per_day = {}
        for unit, (variant, y, x) in first.items():
            if len(variants_of[unit]) > 1:
                continue
            day = per_day.setdefault(earliest[unit][:10], {control: [0, 0.0], treatment: [0, 0.0]})
            day[variant][0] += 1
            day[variant][1] += y
        n = {control: 0, treatment: 0}
        s = {control: 0.0, treatment: 0.0}
        lifts = []
        for day in sorted(per_day):
            for v in (control, treatment):
                n[v] += per_day[day][v][0]
                s[v] += per_day[day][v][1]
            rc, rt = s[control] / n[control], s[treatment] / n[treatment]
            lifts.append(rt / rc - 1)
        out["lifts"] = lifts
    out["seconds"] = round(time.perf_counter() - started, 3)
    print(json.dumps(out))


main()
