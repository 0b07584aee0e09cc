"""ewacct: a numerically rigorous Edgeworth / saddlepoint privacy accountant for DP-SGD.

Core package; never imports torch.  See docs/guide.md for what each number means.
"""

from .accountant import DEFAULT_METHOD, METHODS, Accountant
from .api import delta, epsilon
from .mechanisms import Gaussian, Laplace, Mechanism, PoissonSubsampledGaussian, RandomizedResponse
from .results import DeltaResult, EdgeworthValidityWarning, EpsilonResult, EstimateOnlyWarning, TradeoffResult

__version__ = "0.1.0"

#: names imported on first use (module __getattr__): calibration and the kernel warm-up are not needed by an
#: epsilon / delta query, and ``import ewacct`` should not pay for their modules
_LAZY = {"CalibrationResult": ".calibrate", "calibrate_noise": ".calibrate", "calibrate_steps": ".calibrate",
         "warmup": "._warmup"}


def __getattr__(name: str):
    import importlib

    if name == "calibrate":  # the submodule itself (``ewacct.calibrate.SIGMA_MIN``), as when it was imported eagerly
        return importlib.import_module(".calibrate", __name__)
    mod = _LAZY.get(name)
    if mod is None:
        raise AttributeError(f"module 'ewacct' has no attribute {name!r}")
    value = getattr(importlib.import_module(mod, __name__), name)
    globals()[name] = value
    return value


def __dir__() -> list[str]:
    return sorted(set(globals()) | set(_LAZY))

__all__ = [
    "Accountant",
    "DEFAULT_METHOD",
    "METHODS",
    "epsilon",
    "delta",
    "calibrate_noise",
    "calibrate_steps",
    "CalibrationResult",
    "Mechanism",
    "PoissonSubsampledGaussian",
    "Gaussian",
    "Laplace",
    "RandomizedResponse",
    "EpsilonResult",
    "DeltaResult",
    "TradeoffResult",
    "EdgeworthValidityWarning",
    "EstimateOnlyWarning",
    "warmup",
]
