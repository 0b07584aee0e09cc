"""Laplace mechanism."""

from __future__ import annotations

from dataclasses import dataclass
from typing import Any, ClassVar

import numpy as np

from .._kernels.laplace import laplace_atom_mass, laplace_tilted_cumulants
from .._validate import check_positive
from .base import Mechanism


@dataclass(frozen=True)
class Laplace(Mechanism):
    """Laplace mechanism with noise ``Lap(0, scale)`` on a query of the given L1 sensitivity.

    The PLRV lives on ``[-theta, theta]`` with ``theta = sensitivity / scale`` and has atoms at the
    end points (docs/math.md), so it is only partly continuous: Cramér's condition holds but
    expansions converge more slowly; the accountant reports the tilted atom mass as a diagnostic.
    """

    scale: float
    sensitivity: float = 1.0
    kind: ClassVar[str] = "continuous"
    name: ClassVar[str] = "laplace"

    def __post_init__(self) -> None:
        object.__setattr__(self, "scale", check_positive("scale", self.scale))
        object.__setattr__(self, "sensitivity", check_positive("sensitivity", self.sensitivity))

    @property
    def theta(self) -> float:
        return self.sensitivity / self.scale

    def _cgf_x(self, t: float, nmax: int) -> np.ndarray:
        out = np.zeros(nmax + 1)
        laplace_tilted_cumulants(self.theta, t, nmax, out)
        return out

    def atom_mass(self, t: float, *, direction: str = "remove") -> float:
        """Mass of the PLRV's atoms under the upper measure tilted by ``t``."""
        tx = t + 1.0 if direction == "remove" else -t
        return float(laplace_atom_mass(self.theta, tx))

    def to_dict(self) -> dict[str, Any]:
        return {"type": self.name, "scale": self.scale, "sensitivity": self.sensitivity}
