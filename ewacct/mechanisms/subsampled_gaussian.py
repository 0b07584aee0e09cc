"""Poisson-subsampled Gaussian mechanism (one DP-SGD step)."""

from __future__ import annotations

import math
from dataclasses import dataclass
from typing import Any, ClassVar

import numpy as np

from .._kernels.subsampled_gaussian import sg_tilted_cumulants
from .._validate import check_positive, check_probability
from .base import Mechanism


@dataclass(frozen=True)
class PoissonSubsampledGaussian(Mechanism):
    """Sum of clipped gradients of a Poisson sample (rate q) plus N(0, sigma^2 C^2) noise.

    The dominating pair in the REMOVE direction is ``P0 = N(0, 1)`` (record absent) against
    ``P1 = (1 - q) N(0, 1) + q N(1/sigma, 1)`` (record present), with add-or-remove-one adjacency.

    Args:
        noise_multiplier: sigma > 0 (noise std divided by the clipping norm).
        sampling_probability: q in (0, 1]; q = 1 is the plain Gaussian mechanism.
    """

    noise_multiplier: float
    sampling_probability: float
    kind: ClassVar[str] = "continuous"
    name: ClassVar[str] = "poisson_subsampled_gaussian"

    def __post_init__(self) -> None:
        object.__setattr__(self, "noise_multiplier", check_positive("noise_multiplier", self.noise_multiplier))
        object.__setattr__(
            self, "sampling_probability", check_probability("sampling_probability", self.sampling_probability)
        )

    @property
    def mu(self) -> float:
        return 1.0 / self.noise_multiplier

    #: above this noise multiplier the null/alternative cumulants come from extended precision
    PRECISE_SIGMA = 10.0

    def _cgf_x(self, t: float, nmax: int) -> np.ndarray:
        q = self.sampling_probability
        if self.noise_multiplier > self.PRECISE_SIGMA and q < 1.0 and t in (0.0, 1.0):
            from .._kernels.precise import sg_cumulants_precise

            return sg_cumulants_precise(q, self.noise_multiplier, t, nmax).copy()
        out = np.zeros(nmax + 1)
        sg_tilted_cumulants(q, self.mu, t, nmax, out)
        return out

    def supports_log_mgf(self) -> bool:
        return True

    def log_mgf(self, z: np.ndarray, *, direction: str = "remove") -> np.ndarray:
        """``log E_P[exp(z L)]`` at complex z: ``log G(z + 1)`` (REMOVE) or ``log G(-z)`` (ADD), where
        ``G(w) = E_{N(0,1)}[(1 + q (e^{mu X - mu^2/2} - 1))^w]`` (``ewacct._kernels.mgf``)."""
        z = np.ascontiguousarray(z, dtype=np.complex128)
        q, mu = self.sampling_probability, self.mu
        if direction == "remove":
            w = z + 1.0
        elif direction == "add":
            w = -z
        else:
            raise ValueError(f"direction must be 'remove' or 'add', got {direction!r}")
        if q >= 1.0:
            return 0.5 * mu * mu * w * (w - 1.0)
        from .._kernels.mgf import sg_log_g_many

        return sg_log_g_many(q, mu, np.ascontiguousarray(w))

    def loss_sup(self, direction: str = "remove") -> float:
        q = self.sampling_probability
        if direction == "add" and q < 1.0:
            return -math.log1p(-q)
        return math.inf

    def exact_single_step_delta(self, eps: float, direction: str = "remove") -> float:
        """Exact delta(eps) of ONE step (docs/math.md, the single-step closed form), both directions.

        remove: ``(1-q) Phi_bar(x_e) + q Phi_bar(x_e - mu) - e^eps Phi_bar(x_e)``;
        add:    ``Phi(x_-e) - e^eps [(1-q) Phi(x_-e) + q Phi(x_-e - mu)]``, where ``l(x_c) = c``.
        """
        # the cancellation-free form of ewacct.methods.closed (both directions reduced to the Gaussian
        # profile; the two-term difference this method used to form was 178 % off at eps = 0,
        # sigma = 1e4, q = 1e-12)
        from ..methods.closed import single_step_delta

        if direction in ("remove", "add"):
            return float(single_step_delta(float(eps), self.sampling_probability, self.mu, direction))
        raise ValueError(f"direction must be 'remove' or 'add', got {direction!r}")

    def to_dict(self) -> dict[str, Any]:
        return {
            "type": self.name,
            "noise_multiplier": self.noise_multiplier,
            "sampling_probability": self.sampling_probability,
        }
