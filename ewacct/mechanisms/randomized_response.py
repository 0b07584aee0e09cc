"""Binary randomized response: a lattice PLRV composed exactly with the binomial law."""

from __future__ import annotations

import math
from dataclasses import dataclass
from typing import Any, ClassVar

import numpy as np

from .._validate import check_positive
from .base import Mechanism


@dataclass(frozen=True)
class RandomizedResponse(Mechanism):
    """Report the true bit with probability ``e^eps0 / (1 + e^eps0)``.

    The PLRV takes the two values ``+-eps0``: ``l = eps0 (2B - 1)`` with ``B ~ Bern(r)``,
    ``r = 1/(1 + e^eps0)`` under the null (docs/math.md).  It is a *lattice* law: Edgeworth
    expansions are wrong by O(T^-1/2) at lattice points, so the accountant composes it exactly.
    """

    epsilon0: float
    kind: ClassVar[str] = "lattice"
    name: ClassVar[str] = "randomized_response"

    def __post_init__(self) -> None:
        object.__setattr__(self, "epsilon0", check_positive("epsilon0", self.epsilon0))

    def _cgf_x(self, t: float, nmax: int) -> np.ndarray:
        e = self.epsilon0
        # tilted two-point law on {-e, +e}: log-weights log(1-r) - t e and log r + t e
        lr = -math.log1p(math.exp(e))  # log r, r = 1/(1+e^e)
        l1r = e + lr  # log(1 - r)
        a, b = l1r - t * e, lr + t * e
        m = max(a, b)
        K = m + math.log(math.exp(a - m) + math.exp(b - m))
        p = math.exp(b - K)  # tilted probability of +e
        out = np.zeros(nmax + 1)
        out[0] = K
        out[1] = e * (2.0 * p - 1.0)
        # central moments of the two-point law
        d_plus, d_minus = e - out[1], -e - out[1]
        cm = np.zeros(max(nmax, 8) + 1)
        for j in range(2, nmax + 1):
            cm[j] = p * d_plus**j + (1.0 - p) * d_minus**j
        from .._kernels.subsampled_gaussian import cumulants_from_central

        cumulants_from_central(cm, nmax, out)
        return out

    def to_dict(self) -> dict[str, Any]:
        return {"type": self.name, "epsilon0": self.epsilon0}
