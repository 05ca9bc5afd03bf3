#!/usr/bin/env python3
"""Reference vectors for probity's statistics module (src/stats), computed with scipy,
numpy and statsmodels. tests/stats_reference.rs reads the output and checks the Rust code
against it.

Run (from the crate root):

    pip install scipy numpy statsmodels
    python3 scripts/scipy_reference.py > tests/vectors/scipy_reference.json

Generated with scipy 1.17.1, numpy 2.4.6, statsmodels 0.15.0 (recorded in the output's
"versions"). Everything random comes from fixed numpy seeds (one shared by the sections up to
power, one for the Wilcoxon section, so adding it left the others unchanged): the file is
reproducible.
Cases cover random data and the edges: ties, zeros, all-identical samples, n = 1, 2, 3,
samples of 2,000 and more, tables with zero cells, p-values near 0 and near 1.
"""

import json
import math
import sys

import numpy as np
import scipy
import statsmodels
from scipy import stats
from scipy.optimize import brentq
from scipy.spatial.distance import jensenshannon
from statsmodels.stats.proportion import (
    confint_proportions_2indep,
    proportion_confint,
    proportions_ztest,
)

rng = np.random.default_rng(20240611)
ALTS = ["two-sided", "greater", "less"]


def fl(x):
    """A float for JSON: infinities as strings serde can read back."""
    x = float(x)
    if math.isnan(x):
        return "nan"
    if math.isinf(x):
        return "inf" if x > 0 else "-inf"
    return x


def arr(a):
    return [fl(v) for v in np.asarray(a, dtype=float).ravel()]


def rounded(a, digits=4):
    """Round so that JSON text parses back to the same double in any language."""
    return [float(f"{v:.{digits}g}") for v in np.asarray(a, dtype=float)]


# ---------------------------------------------------------------- intervals
def wilson_cases():
    cases = []
    ns = [1, 2, 3, 5, 10, 20, 50, 100, 1000, 2500, 100000]
    for n in ns:
        for x in sorted({0, 1, n // 3, n // 2, n - 1, n}):
            if x < 0 or x > n:
                continue
            for conf in [0.8, 0.9, 0.95, 0.99, 0.999]:
                lo, hi = proportion_confint(x, n, alpha=1 - conf, method="wilson")
                cases.append({"x": x, "n": n, "confidence": conf, "lo": fl(lo), "hi": fl(hi)})
    return cases


def diff_cases():
    cases = []
    pairs = [(0, 10, 0, 10), (0, 10, 10, 10), (10, 10, 0, 10), (1, 2, 2, 3), (1, 1, 0, 1),
             (3, 50, 9, 50), (40, 1000, 65, 1000), (500, 2000, 480, 2500), (0, 5, 1, 7)]
    for _ in range(20):
        n1, n2 = int(rng.integers(1, 400)), int(rng.integers(1, 400))
        pairs.append((int(rng.integers(0, n1 + 1)), n1, int(rng.integers(0, n2 + 1)), n2))
    for x1, n1, x2, n2 in pairs:
        for conf in [0.9, 0.95, 0.99]:
            # statsmodels' diff is count1/nobs1 - count2/nobs2: pass the current run first
            lo, hi = confint_proportions_2indep(x2, n2, x1, n1, method="newcomb",
                                                compare="diff", alpha=1 - conf)
            cases.append({"x1": x1, "n1": n1, "x2": x2, "n2": n2, "confidence": conf,
                          "diff": fl(x2 / n2 - x1 / n1), "lo": fl(lo), "hi": fl(hi)})
    return cases


# ---------------------------------------------------------------- descriptive
def descriptive_cases():
    samples = [
        [1.0], [2.0, 1.0], [3.0, 1.0, 2.0], [5.0, 5.0, 5.0, 5.0],
        [1.0, 2.0, 2.0, 2.0, 9.0], [0.0, 0.0, 1.0],
        rounded(rng.lognormal(0, 1, 17)), rounded(rng.normal(10, 3, 100)),
        rounded(rng.exponential(2.0, 2000)),
        rounded(rng.integers(0, 5, 51).astype(float)),
    ]
    qs = [0.0, 0.01, 0.1, 0.25, 0.5, 0.75, 0.9, 0.95, 0.99, 0.999, 1.0]
    cases = []
    for s in samples:
        a = np.asarray(s)
        cases.append({
            "values": s,
            "qs": qs,
            "quantiles": arr(np.quantile(a, qs)),  # numpy default: method="linear"
            "median": fl(np.median(a)),
            "mean": fl(np.mean(a)),
            "mad": fl(stats.median_abs_deviation(a, scale=1.0)),
        })
    return cases


# ---------------------------------------------------------------- rates
def fisher_cases():
    tables = [[3, 5, 4, 50], [61, 118, 2, 1], [172, 46, 90, 127], [0, 5, 5, 0], [5, 0, 0, 5],
              [1, 0, 0, 1], [0, 1, 1, 0], [1, 1, 1, 1], [10, 10, 10, 10], [0, 10, 0, 10],
              [0, 0, 3, 4], [0, 3, 3, 0], [7, 0, 3, 0], [1, 2, 3, 4], [2, 7, 8, 2],
              [0, 100, 5, 95], [3, 997, 12, 988], [0, 2000, 40, 1960], [500, 0, 0, 500],
              [1000, 20, 20, 1000], [5, 5, 5, 6], [0, 0, 0, 1], [12, 30, 25, 33]]
    for _ in range(25):
        tables.append([int(v) for v in rng.integers(0, 40, 4)])
    cases = []
    for t in tables:
        row = {"table": t}
        for alt in ALTS:
            res = stats.fisher_exact([[t[0], t[1]], [t[2], t[3]]], alternative=alt)
            row[alt] = {"statistic": fl(res.statistic), "p": fl(res.pvalue)}
        cases.append(row)
    return cases


def rate_pairs():
    pairs = [(0, 100, 0, 100), (0, 100, 6, 100), (10, 100, 40, 100), (30, 100, 45, 100),
             (1, 1, 0, 1), (1, 2, 2, 3), (50, 1000, 80, 1000), (500, 1000, 800, 1000),
             (5000, 100000, 5200, 100000), (1, 1000, 30, 1000), (99, 100, 100, 100),
             (2, 20, 3, 20), (0, 2000, 25, 2000), (200, 400, 100, 400), (7, 40, 7, 40)]
    for _ in range(20):
        n1, n2 = int(rng.integers(5, 3000)), int(rng.integers(5, 3000))
        p1 = rng.uniform(0, 0.5)
        p2 = min(1.0, p1 * rng.uniform(0.5, 2.0))
        pairs.append((int(rng.binomial(n1, p1)), n1, int(rng.binomial(n2, p2)), n2))
    return pairs


def ztest_cases():
    cases = []
    sm_alt = {"two-sided": "two-sided", "greater": "larger", "less": "smaller"}
    for x1, n1, x2, n2 in rate_pairs():
        pooled = (x1 + x2) / (n1 + n2)
        if pooled in (0.0, 1.0):
            continue  # zero variance: documented as z = 0, p = 1, checked in unit tests
        row = {"x1": x1, "n1": n1, "x2": x2, "n2": n2}
        for alt in ALTS:
            z, p = proportions_ztest([x2, x1], [n2, n1], alternative=sm_alt[alt])
            row[alt] = {"statistic": fl(z), "p": fl(p)}
        chi2, p_chi2, _, _ = stats.chi2_contingency([[x1, n1 - x1], [x2, n2 - x2]],
                                                    correction=False)
        row["chi2_p"] = fl(p_chi2)
        cases.append(row)
    return cases


def rate_test_cases():
    cases = []
    for x1, n1, x2, n2 in rate_pairs():
        table = np.array([[x1, n1 - x1], [x2, n2 - x2]], dtype=float)
        expected = table.sum(1, keepdims=True) * table.sum(0, keepdims=True) / table.sum()
        use_fisher = expected.min() < 5
        pooled = (x1 + x2) / (n1 + n2)
        row = {"x1": x1, "n1": n1, "x2": x2, "n2": n2,
               "test": "fisher_exact" if use_fisher else "two_proportion_z"}
        for alt in ALTS:
            if use_fisher:
                p = stats.fisher_exact([[x2, n2 - x2], [x1, n1 - x1]], alternative=alt).pvalue
            elif pooled in (0.0, 1.0):
                p = 1.0
            else:
                sm_alt = {"two-sided": "two-sided", "greater": "larger", "less": "smaller"}
                p = proportions_ztest([x2, x1], [n2, n1], alternative=sm_alt[alt])[1]
            row[alt] = fl(p)
        cases.append(row)
    return cases


def mcnemar_cases():
    pairs = [(0, 0), (0, 1), (1, 0), (3, 3), (0, 5), (5, 0), (1, 9), (12, 30), (40, 41),
             (0, 60), (100, 160), (1000, 1100), (0, 1200), (2, 3)]
    return [{"b": b, "c": c, "p": fl(stats.binomtest(min(b, c), b + c, 0.5).pvalue if b + c
                                     else 1.0)} for b, c in pairs]


def mcnemar_one_sided_cases():
    """One-sided exact McNemar towards worse: `to_bad` of the `to_bad + to_good` discordant
    pairs flipped to worse; p = P(X >= to_bad), X ~ Binomial(to_bad + to_good, 1/2), i.e.
    `binomtest(to_bad, n, 0.5, alternative="greater")`. No discordant pair gives p = 1."""
    pairs = [(0, 0), (0, 1), (1, 0), (3, 3), (0, 5), (5, 0), (1, 9), (9, 1), (12, 30),
             (30, 12), (40, 41), (41, 40), (60, 0), (160, 100), (1100, 1000), (1200, 0),
             (3, 2), (7, 0), (4, 1)]
    return [{"to_bad": b, "to_good": g,
             "p": fl(stats.binomtest(b, b + g, 0.5, alternative="greater").pvalue
                     if b + g else 1.0)} for b, g in pairs]


# ---------------------------------------------------------------- ranks and KS
def sample_pairs():
    """Pairs (name, x, y) shared by Mann-Whitney, KS and Cliff's delta."""
    pairs = [
        ("n1", [1.5], [2.5]),
        ("n1 tie", [2.0], [2.0]),
        ("n2 vs n3", [1.0, 4.0], [2.0, 3.0, 5.0]),
        ("n3 vs n3 separated", [1.0, 2.0, 3.0], [4.0, 5.0, 6.0]),
        ("scipy doc", [19.0, 22.0, 16.0, 29.0, 24.0], [20.0, 11.0, 17.0, 12.0]),
        ("all identical", [3.0] * 12, [3.0] * 9),
        ("ties small", [1.0, 2.0, 2.0, 3.0], [2.0, 3.0, 3.0, 4.0, 5.0]),
        ("zeros", [0.0, 0.0, 0.0, 1.0, 0.0], [0.0, 2.0, 0.0, 3.0, 1.0, 0.0]),
        ("n8 vs n8 exact", rounded(rng.normal(0, 1, 8), 8), rounded(rng.normal(0.5, 1, 8), 8)),
        ("n9 vs n9 asymptotic", rounded(rng.normal(0, 1, 9), 8),
         rounded(rng.normal(0.5, 1, 9), 8)),
        ("n5 vs n200 exact", rounded(rng.normal(0, 1, 5), 10),
         rounded(rng.normal(0.3, 1, 200), 10)),
        ("n7 vs n40 far apart", rounded(rng.normal(5, 1, 7), 10),
         rounded(rng.normal(0, 1, 40), 10)),
        ("n30 vs n45", rounded(rng.lognormal(0, 0.5, 30)), rounded(rng.lognormal(0.2, 0.5, 45))),
        ("ties integers", rng.integers(0, 6, 60).astype(float).tolist(),
         rng.integers(1, 7, 70).astype(float).tolist()),
        ("equal n 100", rounded(rng.normal(0, 1, 100)), rounded(rng.normal(0.2, 1, 100))),
        ("separated 50", rounded(rng.normal(0, 1, 50)), rounded(rng.normal(6, 1, 50))),
        ("large 2000 vs 2500 shift", rounded(rng.lognormal(0, 0.6, 2000)),
         rounded(rng.lognormal(0.05, 0.6, 2500))),
        ("large 3000 vs 3000 same", rounded(rng.lognormal(0, 0.6, 3000)),
         rounded(rng.lognormal(0, 0.6, 3000))),
        ("separated 300 vs 300 deep tail", rounded(rng.normal(0, 1, 300), 8),
         rounded(rng.normal(8, 1, 300), 8)),
        ("n8 vs n5000 exact", rounded(rng.normal(0, 1, 8), 12),
         rounded(rng.normal(0.8, 1, 5000), 12)),
        ("large 4000 vs 2000 far", rounded(rng.lognormal(0, 0.3, 4000)),
         rounded(rng.lognormal(1.0, 0.3, 2000))),
    ]
    return pairs


def mwu_cases():
    cases = []
    for name, x, y in sample_pairs():
        row = {"name": name, "x": x, "y": y}
        for alt in ALTS:
            res = stats.mannwhitneyu(x, y, alternative=alt, method="auto")
            row[alt] = {"statistic": fl(res.statistic), "p": fl(res.pvalue)}
        xa, ya = np.asarray(x), np.asarray(y)
        # Cliff's delta by its definition over all pairs: P(y > x) - P(y < x)
        gt = (ya[None, :] > xa[:, None]).sum()
        lt = (ya[None, :] < xa[:, None]).sum()
        row["cliffs_delta"] = fl((gt - lt) / (len(x) * len(y)))
        cases.append(row)
    return cases


def ks_pairs():
    pairs = [(n, x, y) for n, x, y in sample_pairs()]
    pairs += [
        ("unequal 7 vs 11", rounded(rng.normal(0, 1, 7)), rounded(rng.normal(1, 1, 11))),
        ("unequal 60 vs 45 one-sided", rounded(rng.normal(0, 1, 60)),
         rounded(rng.normal(0.4, 1, 45))),
        ("unequal 300 vs 420", rounded(rng.normal(0, 1, 300)), rounded(rng.normal(0.1, 1, 420))),
        ("1000 vs 1500 tiny p", rounded(rng.normal(0, 1, 1000)),
         rounded(rng.normal(0.5, 1, 1500))),
        ("asymptotic 12000 vs 15000", rounded(rng.normal(0, 1, 12000), 5),
         rounded(rng.normal(0.02, 1, 15000), 5)),
        ("asymptotic 11000 vs 60 (pomeranz)", rounded(rng.normal(0, 1, 11000), 5),
         rounded(rng.normal(0.3, 1, 60), 5)),
        ("asymptotic 10500 vs 300 tail", rounded(rng.normal(0, 1, 10500), 5),
         rounded(rng.normal(0.5, 1, 300), 5)),
        ("asymptotic 10001 vs 3", rounded(rng.normal(0, 1, 10001), 5),
         rounded(rng.normal(0, 1, 3), 5)),
    ]
    return pairs


def ks_cases():
    cases = []
    for name, x, y in ks_pairs():
        row = {"name": name, "x": x, "y": y}
        for alt in ALTS:
            res = stats.ks_2samp(x, y, alternative=alt, method="auto")
            row[alt] = {"statistic": fl(res.statistic), "p": fl(res.pvalue)}
        cases.append(row)
    return cases


def kstwo_cases():
    """scipy.stats.kstwo.sf(d, n) directly, one case per region of its algorithm."""
    cases = []
    for n in [1, 2, 3, 5, 10, 50, 140, 141, 500, 1000, 5000, 20000, 100000, 200000]:
        for d in [0.3 / n, 0.7 / n, 1.0 / n, 0.01, 0.03, 0.05, 0.08, 0.1, 0.15, 0.2, 0.3, 0.45,
                  0.5, 0.6, 0.9, 1 - 0.5 / n]:
            if not 0 < d < 1:
                continue
            cases.append({"n": n, "d": d, "sf": fl(stats.kstwo.sf(d, n))})
    return cases


# ---------------------------------------------------------------- categorical
def chi2_cases():
    tables = [
        [[10, 20], [30, 5]], [[1, 2], [3, 4]], [[0, 5], [5, 0]], [[10, 0, 20], [0, 0, 0],
                                                                   [30, 0, 5]],
        [[5, 0], [7, 0]], [[100, 200, 300], [110, 190, 305]], [[1, 1, 1], [1, 1, 1]],
        [[3, 0, 0], [0, 3, 0], [0, 0, 3]], [[1000, 0], [0, 1000]],
        [[50, 30, 20, 0, 1], [40, 35, 25, 2, 0]],
    ]
    for _ in range(10):
        r, c = int(rng.integers(2, 5)), int(rng.integers(2, 6))
        tables.append(rng.integers(0, 60, (r, c)).tolist())
    cases = []
    for t in tables:
        a = np.asarray(t)
        a = a[a.sum(1) > 0][:, a.sum(0) > 0]  # drop all-zero rows, then columns
        if a.shape[0] < 2 or a.shape[1] < 2:
            stat, dof, p = 0.0, 0, 1.0
        else:
            stat, p, dof, _ = stats.chi2_contingency(a, correction=False)
        cases.append({"table": t, "statistic": fl(stat), "dof": int(dof), "p": fl(p)})
    return cases


def js_cases():
    pairs = [([1, 0], [0, 1]), ([1, 1], [1, 1]), ([1, 2, 3], [3, 2, 1]), ([10, 0, 0], [0, 5, 5]),
             ([0.2, 0.8], [0.8, 0.2]), ([100, 1], [99, 2]), ([5], [7])]
    for _ in range(10):
        k = int(rng.integers(2, 9))
        p = rng.integers(0, 50, k).astype(float)
        q = rng.integers(0, 50, k).astype(float)
        p[0] += 1
        q[-1] += 1
        pairs.append((p.tolist(), q.tolist()))
    return [{"p": list(map(float, p)), "q": list(map(float, q)),
             "js": fl(jensenshannon(p, q, base=2) ** 2)} for p, q in pairs]


# ---------------------------------------------------------------- multiple testing
def bh_cases():
    lists = [[0.01], [0.04, 0.01, 0.03], [0.5, 0.5, 0.5], [1e-10, 0.2, 0.03, 0.9, 0.04],
             [0.0, 1.0], [0.001, 0.008, 0.039, 0.041, 0.042, 0.06, 0.074, 0.205, 0.212, 0.216]]
    for n in [5, 20, 200]:
        lists.append(rng.uniform(0, 1, n).tolist())
        lists.append((rng.uniform(0, 1, n) ** 4).tolist())
    return [{"ps": ps, "adjusted": arr(stats.false_discovery_control(ps, method="bh"))}
            for ps in lists]


# ---------------------------------------------------------------- bootstrap
def bootstrap_cases():
    cases = []
    specs = [("median", 0.5, 300, 350, 0.0, 0.10), ("p90", 0.9, 400, 400, 0.0, 0.2),
             ("median small", 0.5, 25, 30, 0.0, 0.3), ("p95", 0.95, 800, 600, 0.0, 0.0)]
    for name, q, nx, ny, _, shift in specs:
        x = rounded(rng.lognormal(0, 0.5, nx), 6)
        y = rounded(rng.lognormal(shift, 0.5, ny), 6)
        res = stats.bootstrap((x, y), lambda a, b, axis=-1: np.quantile(b, q, axis=axis)
                              / np.quantile(a, q, axis=axis), paired=False, vectorized=True,
                              n_resamples=20000, confidence_level=0.95, method="percentile",
                              rng=np.random.default_rng(7))
        cases.append({"name": name, "q": q, "x": x, "y": y, "confidence": 0.95,
                      "ratio": fl(np.quantile(y, q) / np.quantile(x, q)),
                      "lo": fl(res.confidence_interval.low),
                      "hi": fl(res.confidence_interval.high),
                      "se": fl(res.standard_error)})
    return cases


# ---------------------------------------------------------------- power
def power_cases():
    norm = stats.norm
    rate = []
    for p0 in [0.0, 0.001, 0.02, 0.1, 0.5, 0.9]:
        for n1, n2 in [(50, 50), (200, 1000), (1000, 1000), (20000, 5000)]:
            for alpha, power in [(0.05, 0.8), (0.01, 0.9)]:
                za, zb = norm.ppf(1 - alpha), norm.ppf(power)

                def excess(d):
                    p1 = p0 + d
                    pbar = (n1 * p0 + n2 * p1) / (n1 + n2)
                    null_sd = math.sqrt(max(pbar * (1 - pbar) * (1 / n1 + 1 / n2), 0))
                    alt_sd = math.sqrt(max(p0 * (1 - p0) / n1 + p1 * (1 - p1) / n2, 0))
                    return d - za * null_sd - zb * alt_sd

                # at p0 = 0, d = 0 solves the equation trivially; the MDE is the positive root
                lo, hi = 1e-12, 1 - p0
                mde = brentq(excess, lo, hi, xtol=1e-15, rtol=1e-15) if excess(hi) >= 0 \
                    else math.inf
                rate.append({"p0": p0, "n1": n1, "n2": n2, "alpha": alpha, "power": power,
                             "mde": fl(mde)})
    ratio = []
    for log_sd in [0.1, 0.5, 1.0]:
        for n1, n2 in [(10, 10), (100, 300), (5000, 5000)]:
            for alpha, power in [(0.05, 0.8), (0.01, 0.9)]:
                z = norm.ppf(1 - alpha) + norm.ppf(power)
                ratio.append({"log_sd": log_sd, "n1": n1, "n2": n2, "alpha": alpha,
                              "power": power,
                              "mde": fl(math.exp(z * log_sd * math.sqrt((1 / n1 + 1 / n2)
                                                                        * math.pi / 3)))})
    return {"rate": rate, "ratio": ratio}


# ---------------------------------------------------------------- paired: Wilcoxon signed-rank
def wilcoxon_method(x, y):
    """Which branch scipy 1.17's `wilcoxon(method="auto")` takes, by its own rule: with n the
    number of pairs after NaN pairs are omitted (zero differences included), "asymptotic"
    when n > 50; else "exact" when no |d| is tied and no d is zero; else an exhaustive
    sign-flip "permutation" test when n <= 13 (2^13 < 9999 resamples); else "asymptotic".
    The script asserts that scipy's auto p-value equals the named method's."""
    xa, ya = np.asarray(x, dtype=float), np.asarray(y, dtype=float)
    keep = ~(np.isnan(xa) | np.isnan(ya))
    with np.errstate(invalid="ignore"):  # inf - inf is NaN, as in scipy
        d = xa[keep] - ya[keep]
    nonzero = d[(d != 0) & ~np.isnan(d)]
    if len(nonzero) == 0:
        return "degenerate"
    if len(d) > 50:
        return "asymptotic"
    a = np.sort(np.abs(nonzero))
    ties = bool(np.any(a[1:] == a[:-1]))
    if not ties and not np.any(d == 0):
        return "exact"
    return "permutation" if len(d) <= 13 else "asymptotic"


def wilcoxon_pairs():
    """(name, x, y) for the paired test; differences d = x - y."""
    g = np.random.default_rng(20240612)  # its own seed: the sections above stay unchanged
    pairs = []
    for n in range(1, 11):  # exact path, no ties or zeros, both directions
        shift = 0.8 if n % 2 else -0.8
        x = rounded(g.normal(0, 1, n), 8)
        pairs.append((f"exact n{n}", x, rounded(np.asarray(x) - g.normal(shift, 1, n), 8)))
    d = [6, 8, 14, 16, 23, 24, 28, 29, 41, -48, 49, 56, 60, -67, 75]  # scipy's docs example
    pairs.append(("scipy doc n15", [float(v) for v in d], [0.0] * len(d)))
    pairs += [
        ("exact n20 null", rounded(g.normal(5, 1, 20), 8), rounded(g.normal(5, 1, 20), 8)),
        ("exact n30 less", rounded(g.normal(0, 1, 30), 8), rounded(g.normal(0.6, 1, 30), 8)),
        ("exact n50 boundary", rounded(g.normal(0.2, 1, 50), 8), rounded(g.normal(0, 1, 50), 8)),
        ("exact n50 all positive", rounded(g.uniform(1, 2, 50), 8),
         rounded(g.uniform(-2, -1, 50), 8)),
        ("exact n50 all negative", rounded(g.uniform(-2, -1, 50), 8),
         rounded(g.uniform(1, 2, 50), 8)),
        ("asymptotic n51 boundary", rounded(g.normal(0.2, 1, 51), 8),
         rounded(g.normal(0, 1, 51), 8)),
        ("asymptotic n51 all positive", rounded(g.uniform(1, 2, 51), 8),
         rounded(g.uniform(-2, -1, 51), 8)),
    ]
    x = rounded(g.normal(0.3, 1, 50), 8)
    y = list(x)
    y[:49] = rounded(g.normal(0, 1, 49), 8)
    pairs.append(("n50 one zero asymptotic", x, y))
    x = rounded(g.normal(0.3, 1, 52), 8)
    y = rounded(g.normal(0, 1, 52), 8)
    x[5], y[17] = math.nan, math.nan  # omitted pairwise: 50 pairs left, exact
    pairs.append(("nan pairs omitted n52 to 50 exact", x, y))
    pairs += [
        ("ties n8 permutation", [3.0, 1.0, 4.0, 1.0, 5.0, 9.0, 2.0, 6.0],
         [1.0, 2.0, 1.0, 0.0, 3.0, 4.0, 4.0, 2.0]),
        ("ties and zeros n12 permutation", [2.0, 1.0, 3.0, 3.0, 0.0, 5.0, 1.0, 2.0, 2.0, 4.0,
                                            1.0, 3.0],
         [1.0, 1.0, 1.0, 4.0, 0.0, 2.0, 3.0, 0.0, 3.0, 1.0, 2.0, 3.0]),
        ("half ranks n13 permutation", [0.5, -0.5, 1.5, 1.5, -1.5, 2.0, 2.5, 2.5, 2.5, 3.0,
                                        -3.0, 4.0, 5.0], [0.0] * 13),
        ("zeros n6 permutation", [1.0, 0.0, 2.5, -1.5, 0.0, 4.0], [0.0] * 6),
        ("one nonzero n5 permutation", [0.0, 0.0, 2.0, 0.0, 0.0], [0.0] * 5),
        ("one nonzero n20 asymptotic", [0.0] * 19 + [-1.0], [0.0] * 20),
        ("ties n14 asymptotic", g.choice([-3.0, -2.0, -1.0, 1.0, 2.0, 3.0, 4.0], 14).tolist(),
         [0.0] * 14),
        ("integer ties and zeros n30", g.integers(0, 6, 30).astype(float).tolist(),
         g.integers(0, 5, 30).astype(float).tolist()),
        ("integer ties and zeros n45 less", g.integers(0, 5, 45).astype(float).tolist(),
         g.integers(1, 7, 45).astype(float).tolist()),
        ("all tied n20", [2.0] * 20, [1.0] * 20),
        ("infinities", [math.inf, 1.0, 2.0, 3.5, math.inf, -math.inf],
         [0.0, 0.5, 0.25, 1.0, math.inf, 2.0]),
        ("all zero n3", [1.0, 2.0, 3.0], [1.0, 2.0, 3.0]),
        ("all zero n20", [0.5] * 20, [0.5] * 20),
        ("all nan", [math.nan, 1.0], [2.0, math.nan]),
        ("empty", [], []),
    ]
    base = rounded(g.lognormal(0, 0.5, 5000), 6)
    pairs += [
        ("large 5000 small shift", base,
         rounded(np.asarray(base) * g.lognormal(-0.02, 0.3, 5000), 6)),
        ("large 5000 deep tail", base,
         rounded(np.asarray(base) * g.lognormal(0.06, 0.3, 5000), 6)),
        ("large 5000 p underflows", base,
         rounded(np.asarray(base) * g.lognormal(0.3, 0.3, 5000), 6)),
        ("large 5000 integer ties", g.integers(0, 20, 5000).astype(float).tolist(),
         g.integers(0, 20, 5000).astype(float).tolist()),
    ]
    return pairs


def wilcoxon_cases():
    cases = []
    for name, x, y in wilcoxon_pairs():
        method = wilcoxon_method(x, y)
        row = {"name": name, "x": arr(x), "y": arr(y), "method": method}
        for alt in ALTS:
            res = stats.wilcoxon(x, y, zero_method="wilcox", correction=False,
                                 alternative=alt, method="auto", nan_policy="omit")
            if method in ("exact", "asymptotic"):
                named = stats.wilcoxon(x, y, zero_method="wilcox", correction=False,
                                       alternative=alt, method=method, nan_policy="omit")
            elif method == "permutation":
                named = stats.wilcoxon(x, y, zero_method="wilcox", correction=False,
                                       alternative=alt, method=stats.PermutationMethod(),
                                       nan_policy="omit")
            else:
                named = res
            assert float(named.pvalue) == float(res.pvalue) or (
                math.isnan(named.pvalue) and math.isnan(res.pvalue)), (name, alt)
            row[alt] = {"statistic": fl(res.statistic), "p": fl(res.pvalue)}
        cases.append(row)
    return cases


def main():
    out = {
        "versions": {"scipy": scipy.__version__, "numpy": np.__version__,
                     "statsmodels": statsmodels.__version__},
        "wilson": wilson_cases(),
        "diff_interval": diff_cases(),
        "descriptive": descriptive_cases(),
        "fisher": fisher_cases(),
        "two_proportion_z": ztest_cases(),
        "rate_test": rate_test_cases(),
        "mcnemar": mcnemar_cases(),
        "mann_whitney": mwu_cases(),
        "ks_2samp": ks_cases(),
        "kstwo": kstwo_cases(),
        "chi2_contingency": chi2_cases(),
        "js_divergence": js_cases(),
        "benjamini_hochberg": bh_cases(),
        "bootstrap": bootstrap_cases(),
        "power": power_cases(),
        "wilcoxon": wilcoxon_cases(),
        # Added after the sections above, using no random numbers, so they stay identical.
        "mcnemar_one_sided": mcnemar_one_sided_cases(),
    }
    json.dump(out, sys.stdout, separators=(",", ":"))
    sys.stdout.write("\n")


if __name__ == "__main__":
    main()
