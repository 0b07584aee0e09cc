"""One-call functions for the common DP-SGD case (dp_accounting's argument names)."""

from __future__ import annotations

from .accountant import Accountant
from .mechanisms import PoissonSubsampledGaussian
from .results import DeltaResult, EpsilonResult
from . import _validate as V


def _dpsgd(noise_multiplier: float, sampling_probability: float, steps: int, method: str | None) -> Accountant:
    noise_multiplier, sampling_probability, steps = V.check_dpsgd_domain(noise_multiplier, sampling_probability, steps)
    mech = PoissonSubsampledGaussian(noise_multiplier, sampling_probability)
    return Accountant(method=method).compose(mech, steps)


def epsilon(*, noise_multiplier: float, sampling_probability: float, steps: int, target_delta,
            method: str | None = None, certify: bool = False) -> EpsilonResult:
    """epsilon of ``steps`` DP-SGD steps (Poisson rate ``sampling_probability``) at ``target_delta``.

    Args:
        noise_multiplier: sigma in [0.05, 1e4] (the checked domain; ``ewacct._validate.SIGMA_MIN/MAX``).
        sampling_probability: q in [1e-12, 1].
        steps: number of steps T in [1, 1e12].
        target_delta: delta in (0, 1), scalar or array.
        method: "exact" (default), "tilted", "edgeworth" or "ew-tune".
        certify: also compute a certified [lower, upper] bracket; ``float(result)`` is then the upper bound.

    Returns:
        EpsilonResult (``float(result)`` works for scalar queries).

    Raises:
        ValueError: when an argument is outside its range.
    """
    return _dpsgd(noise_multiplier, sampling_probability, steps, method).get_epsilon(target_delta, certify=certify)


def delta(*, noise_multiplier: float, sampling_probability: float, steps: int, target_epsilon,
          method: str | None = None, certify: bool = False) -> DeltaResult:
    """delta of ``steps`` DP-SGD steps at ``target_epsilon``.

    Args:
        noise_multiplier: sigma in [0.05, 1e4] (the checked domain; ``ewacct._validate.SIGMA_MIN/MAX``).
        sampling_probability: q in [1e-12, 1].
        steps: number of steps T in [1, 1e12].
        target_epsilon: eps >= 0, scalar or array.
        method: "exact" (default), "tilted", "edgeworth" or "ew-tune".
        certify: also compute a certified [lower, upper] bracket; ``float(result)`` is then the upper bound.

    Returns:
        DeltaResult.

    Raises:
        ValueError: when an argument is outside its range.
    """
    return _dpsgd(noise_multiplier, sampling_probability, steps, method).get_delta(target_epsilon, certify=certify)
