"""The mechanism interface: what every privacy-loss random variable (PLRV) provides.

A mechanism is a frozen description of *what ran* (dp_accounting's ``DpEvent`` spirit).  Its one
numerical duty is the cumulant generating function of its PLRV in the REMOVE direction under the
null, ``K_X(t) = log E_{P0}[exp(t l)]`` with ``l = log dP1/dP0``, and the derivatives of ``K_X``.
Everything else (the alternative side, the ADD direction, cumulants) follows from it:

* alternative (upper measure P1), REMOVE:  ``K_Y(t) = K_X(t + 1)``  (tilting identity);
* ADD direction, loss ``-l`` with upper measure P0: ``K(t) = K_X(-t)``.
"""

from __future__ import annotations

import abc
from functools import lru_cache
from typing import Any, ClassVar

import numpy as np

DIRECTIONS = ("remove", "add")


class Mechanism(abc.ABC):
    """Abstract base of a mechanism with a privacy-loss random variable."""

    #: "continuous" (Edgeworth/saddlepoint apply), "gaussian" (exact closed form), "lattice" (exact counting)
    kind: ClassVar[str] = "continuous"
    #: registry name used in state dicts
    name: ClassVar[str] = ""

    @abc.abstractmethod
    def _cgf_x(self, t: float, nmax: int) -> np.ndarray:
        """Return ``[K_X(t), K_X'(t), ..., K_X^{(nmax)}(t)]`` (null side, REMOVE direction)."""

    def cgf(self, t: float, nmax: int = 6, *, direction: str = "remove") -> np.ndarray:
        """Derivatives of the CGF of the loss under the *upper* measure of ``direction``.

        Args:
            t: tilt (real).
            nmax: highest derivative wanted (<= 8).
            direction: "remove" (upper measure P1, loss l) or "add" (upper measure P0, loss -l).

        Returns:
            ``np.ndarray`` of length ``nmax + 1``: ``K(t), K'(t), ..., K^{(nmax)}(t)``.
        """
        if direction == "remove":
            return _cached_cgf(self, float(t) + 1.0, nmax).copy()
        if direction == "add":
            out = _cached_cgf(self, -float(t), nmax).copy()
            out[1::2] *= -1.0
            return out
        raise ValueError(f"direction must be one of {DIRECTIONS}, got {direction!r}")

    def cumulants(self, *, direction: str = "remove", side: str = "upper", nmax: int = 6) -> np.ndarray:
        """Cumulants kappa_1..kappa_nmax of the loss under the upper ("alternative") or lower ("null") measure."""
        if side not in ("upper", "lower"):
            raise ValueError(f"side must be 'upper' or 'lower', got {side!r}")
        t = 0.0 if side == "upper" else -1.0
        return self.cgf(t, nmax, direction=direction)[1:]

    def supports_log_mgf(self) -> bool:
        """True when :meth:`log_mgf` is available (no atoms or lattice in the loss)."""
        return False

    def log_mgf(self, z: np.ndarray, *, direction: str = "remove") -> np.ndarray:
        """``log E_P[exp(z L)]`` at complex ``z`` (Re z >= 0) under the upper measure of ``direction``."""
        raise NotImplementedError(f"{type(self).__name__} has no complex log-MGF")

    def loss_sup(self, direction: str = "remove") -> float:
        """Essential supremum of one run's privacy loss under the upper measure (inf if unbounded)."""
        return float("inf")

    @abc.abstractmethod
    def to_dict(self) -> dict[str, Any]:
        """JSON-able description, inverse of :func:`ewacct.mechanisms.from_dict`."""


@lru_cache(maxsize=8192)
def _cached_cgf(mech: Mechanism, t: float, nmax: int) -> np.ndarray:
    out = mech._cgf_x(t, nmax)
    out.setflags(write=False)
    return out
