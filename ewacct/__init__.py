"""ewacct: a numerically rigorous Edgeworth / saddlepoint privacy accountant for DP-SGD.

Core package; never imports torch.  See docs/guide.md for what each number means.
"""

from .accountant import DEFAULT_METHOD, METHODS, Accountant
from .api import delta, epsilon
from .calibrate import CalibrationResult, calibrate_noise, calibrate_steps
from .mechanisms import Gaussian, Laplace, Mechanism, PoissonSubsampledGaussian, RandomizedResponse
from .results import DeltaResult, EdgeworthValidityWarning, EpsilonResult, EstimateOnlyWarning, TradeoffResult

__version__ = "0.1.0"

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
]
