"""Gaussian mechanism (sensitivity 1, noise std = noise_multiplier)."""

from __future__ import annotations

from dataclasses import dataclass
from typing import Any, ClassVar

import numpy as np

from .._validate import check_positive
from .base import Mechanism


@dataclass(frozen=True)
class Gaussian(Mechanism):
    """The Gaussian mechanism: PLRV ``l = mu x - mu^2/2`` with ``mu = 1/noise_multiplier``.

    The PLRV is itself Gaussian, ``N(-mu^2/2, mu^2)`` under the null, so compositions are exact in
    closed form (Dong, Roth & Su 2022): ``mu_T = sqrt(sum mu_i^2)``.
    """

    noise_multiplier: float
    kind: ClassVar[str] = "gaussian"
    name: ClassVar[str] = "gaussian"

    def __post_init__(self) -> None:
        object.__setattr__(self, "noise_multiplier", check_positive("noise_multiplier", self.noise_multiplier))

    @property
    def mu(self) -> float:
        return 1.0 / self.noise_multiplier

    def _cgf_x(self, t: float, nmax: int) -> np.ndarray:
        m2 = self.mu**2
        out = np.zeros(nmax + 1)
        out[0] = 0.5 * t * (t - 1.0) * m2
        out[1] = (t - 0.5) * m2
        if nmax >= 2:
            out[2] = m2
        return out

    def supports_log_mgf(self) -> bool:
        return True

    def log_mgf(self, z: np.ndarray, *, direction: str = "remove") -> np.ndarray:
        """Both directions: L ~ N(mu^2/2, mu^2) under the upper measure, so log E e^{zL} = mu^2 z (z+1) / 2."""
        z = np.asarray(z, dtype=np.complex128)
        return 0.5 * self.mu**2 * z * (z + 1.0)

    def to_dict(self) -> dict[str, Any]:
        return {"type": self.name, "noise_multiplier": self.noise_multiplier}
