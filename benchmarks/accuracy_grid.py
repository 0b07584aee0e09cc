"""Measure ewacct's epsilon against dp_accounting's exact PLD on a grid; prints a Markdown table.

Run: python benchmarks/accuracy_grid.py   (a few minutes on 2 cores)
"""

from __future__ import annotations

import itertools
import logging
import time
import warnings

import numpy as np

from ewacct import Accountant, PoissonSubsampledGaussian
from ewacct.baselines.pld import PldBracket

logging.getLogger().setLevel(logging.ERROR)


def main() -> None:
    qs = [1e-3, 0.01, 0.05, 0.2]
    sigmas = [0.5, 1.0, 3.0]
    Ts = [100, 1000, 10000]
    deltas = [1e-5, 1e-8]
    rows = []
    print("| q | sigma | T | delta | PLD eps (pess.) | tilted eps | tilted rel.err | valid | default eps | answered by | default rel.err |")
    print("|---|---|---|---|---|---|---|---|---|---|---|")
    for q, s, T in itertools.product(qs, sigmas, Ts):
        mech = PoissonSubsampledGaussian(s, q)
        b = PldBracket([(mech, T)])
        for d in deltas:
            _, ref = b.epsilon_bracket(d, 1e-4)
            with warnings.catch_warnings():
                warnings.simplefilter("ignore")
                raw = Accountant(fallback=False).compose(mech, T)
                r0 = raw.get_epsilon(d)
                acc = Accountant().compose(mech, T)
                acc._pld = (tuple(acc.groups()), b)  # reuse the composed PLD for the fallback
                r1 = acc.get_epsilon(d)
            e0 = abs(r0.estimate - ref) / ref
            e1 = abs(r1.estimate - ref) / ref
            rows.append((e0, r0.valid, e1))
            print(f"| {q:g} | {s:g} | {T} | {d:g} | {ref:.5f} | {r0.estimate:.5f} | {e0:.2e} | {r0.valid} | "
                  f"{r1.estimate:.5f} | {r1.method} | {e1:.2e} |", flush=True)
    e0 = np.array([r[0] for r in rows])
    v = np.array([r[1] for r in rows])
    e1 = np.array([r[2] for r in rows])
    print(f"\ntilted alone: median {np.median(e0):.2e}, max {e0.max():.2e}; where valid ({v.sum()}/{len(v)}): "
          f"median {np.median(e0[v]):.2e}, max {e0[v].max():.2e}")
    print(f"default (tilted + PLD fallback): median {np.median(e1):.2e}, max {e1.max():.2e}; "
          f"fallback used on {len(v) - v.sum()}/{len(v)}")


if __name__ == "__main__":
    main()
