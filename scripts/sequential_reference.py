#!/usr/bin/env python3
"""Reference vectors for probity's anytime-valid statistics (src/stats/sequential), computed
with the PyPI package `confseq` (Howard, Waudby-Smith & Ramdas). tests/sequential_reference.rs
reads the output and checks the Rust code against it.

Run (from the crate root), in a venv:

    pip install "numpy<2" "scipy<1.14" "pybind11>=2.10" scikit-build cmake ninja
    pip install --no-build-isolation confseq==0.0.11     # needs Boost headers: libboost-dev
    python3 scripts/sequential_reference.py > tests/vectors/sequential_reference.json

confseq 0.0.11 does not build from its sdist as published on Python 3.11: its pinned build
dependency pybind11 2.6.2 predates 3.11 (`PyFrameObject` is opaque there), and it needs the
Boost headers. Building it against a newer pybind11 without build isolation works, as above;
its Python modules also use `np.float_`, so numpy < 2. Versions are recorded in the output.

Sections:
- normal_mixture_bound: confseq.boundaries.normal_mixture_bound(v, alpha, v_opt, alpha_opt,
  is_one_sided=False) — closed form: checked to 1e-6 relative.
- normal_log_mixture: confseq.boundaries.normal_log_mixture(s, v, v_opt, alpha_opt,
  is_one_sided=False) — the mixture e-value (its log): closed form, 1e-6 relative.
- asymptotic_cs: the Waudby-Smith et al. (2021) asymptotic CS of a mean, radius
  normal_mixture_bound(t σ̂², α, n_opt σ̂², α, two-sided) / t with σ̂² the sample variance
  (ddof = 1), and the mixture e-value of the sum at 0: closed form, 1e-6 relative.
- betting_mart: confseq.betting.betting_mart(x, m, alpha, theta=1 or 0) with its default
  predictable plug-in bets (lambda_predmix_eb) and truncation ½ / m: the capital process at
  several times — a product of closed-form factors, 1e-6 relative.
- betting_agrapa: betting_mart with lambda_aKelly bets (kept >= 0) — the aGRAPA e-process
  the gate fails on (truncated at 0.9 / m): 1e-6 relative.
- betting_cs: confseq.betting.betting_lower_cs on a grid of 1000 breaks (and on 1 − x for
  the upper bound). It is a grid search, the Rust code bisects: checked to the grid's
  resolution (confseq's bound is the first grid point inside, minus one step).
"""

import json
import math
import sys

import numpy as np
import scipy
import confseq
from confseq import boundaries
from confseq.betting import betting_mart, betting_lower_cs
from confseq.betting_strategies import lambda_aKelly

try:
    from importlib.metadata import version
except ImportError:  # pragma: no cover
    version = None


def out():
    rng = np.random.default_rng(20261202)
    doc = {
        "versions": {
            "confseq": version("confseq") if version else "unknown",
            "numpy": np.__version__,
            "scipy": scipy.__version__,
            "python": sys.version.split()[0],
        }
    }

    cases = []
    for v in [0.5, 1.0, 10.0, 100.0, 1234.5, 1e5]:
        for alpha in [0.01, 0.05, 0.2]:
            for v_opt in [1.0, 50.0, 1000.0]:
                bound = float(boundaries.normal_mixture_bound(v, alpha, v_opt, alpha, False))
                cases.append({"v": v, "alpha": alpha, "v_opt": v_opt, "bound": bound})
    doc["normal_mixture_bound"] = cases

    cases = []
    for s in [-30.0, -2.0, 0.0, 0.5, 7.0, 40.0]:
        for v in [1.0, 25.0, 400.0]:
            for v_opt, alpha in [(10.0, 0.05), (200.0, 0.01)]:
                log_m = float(boundaries.normal_log_mixture(s, v, v_opt, alpha, False))
                cases.append({"s": s, "v": v, "v_opt": v_opt, "alpha": alpha, "log_e": log_m})
    doc["normal_log_mixture"] = cases

    cases = []
    for n, shift, scale, alpha, n_opt in [
        (20, 0.0, 1.0, 0.01, 100.0),
        (50, 0.3, 0.5, 0.01, 200.0),
        (200, 0.05, 0.4, 0.05, 150.0),
        (1000, -0.02, 2.0, 0.01, 500.0),
        (37, 1.0, 0.01, 0.1, 37.0),
    ]:
        x = rng.normal(shift, scale, n)
        t = float(n)
        var = float(np.var(x, ddof=1))
        radius = float(boundaries.normal_mixture_bound(t * var, alpha, n_opt * var, alpha, False)) / t
        log_e = float(boundaries.normal_log_mixture(float(np.sum(x)), t * var, n_opt * var, alpha, False))
        cases.append({
            "x": x.tolist(), "alpha": alpha, "n_opt": n_opt,
            "mean": float(np.mean(x)), "radius": radius, "log_e_zero": log_e,
        })
    doc["asymptotic_cs"] = cases

    cases = []
    streams = [
        # paired rate differences mapped to [0, 1]: (d + 1) / 2 with d in {-1, 0, 1}
        ("paired null", (rng.choice([-1, 0, 0, 0, 0, 0, 1], 300) + 1) / 2.0),
        ("paired worse", (rng.choice([-1, 0, 0, 0, 0, 1, 1], 300) + 1) / 2.0),
        ("all equal", np.full(120, 0.5)),
        ("uniform", rng.uniform(0, 1, 250)),
        ("bernoulli 0.1", rng.binomial(1, 0.1, 400).astype(float)),
    ]
    for name, x in streams:
        for m in [0.3, 0.5, 0.52, 0.7]:
            for alpha in [0.01, 0.05]:
                for theta in [1, 0]:
                    mart = betting_mart(x, m, alpha=alpha, theta=theta)
                    at = [10, 50, len(x)]
                    cases.append({
                        "name": name, "m": m, "alpha": alpha,
                        "side": "above" if theta == 1 else "below",
                        "at": at, "capital": [float(mart[i - 1]) for i in at],
                    })
    doc["betting_mart"] = cases

    cases = []
    for name, x in streams:
        for m in [0.3, 0.5, 0.52]:
            # aGRAPA bets, kept >= 0 (one-sided null), truncated at 0.9 / m by betting_mart.
            bets = lambda x, m: np.maximum(0, lambda_aKelly(x, m))
            mart = betting_mart(x, m, alpha=0.05, lambdas_fn_positive=bets, theta=1, trunc_scale=0.9)
            at = [10, 50, len(x)]
            cases.append({"name": name, "m": m, "at": at, "capital": [float(mart[i - 1]) for i in at]})
    doc["betting_agrapa"] = cases
    doc["streams"] = {name: x.tolist() for name, x in streams}

    cases = []
    breaks = 1000
    for name, x in streams:
        for alpha in [0.01, 0.05]:
            lower = betting_lower_cs(x, alpha=alpha, breaks=breaks)
            upper = 1 - betting_lower_cs(1 - x, alpha=alpha, breaks=breaks)
            at = [30, 100, len(x)]
            cases.append({
                "name": name, "alpha": alpha, "breaks": breaks, "at": at,
                "lower": [float(lower[i - 1]) for i in at],
                "upper": [float(upper[i - 1]) for i in at],
            })
    doc["betting_cs"] = cases
    return doc


if __name__ == "__main__":
    json.dump(out(), sys.stdout, indent=None, separators=(",", ":"))
    sys.stdout.write("\n")
