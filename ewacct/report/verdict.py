"""The one verdict on "does this noise meet the target epsilon?", shared by every output.

Light on purpose (no numpy, no scipy): the CLI, the demo and the report import it at no start-up cost.
"""

from __future__ import annotations

import math

__all__ = ["VERDICTS", "verdict"]

#: the three verdicts, in the words every output uses
VERDICTS = ("meets target", "overspends", "unknown")


def verdict(lower: float | None, upper: float | None, target: float) -> str:
    """The verdict on a certified bracket [lower, upper] of the true epsilon against a target.

    ``meets target`` when the certified upper bound is at most the target; ``overspends`` when the
    certified lower bound exceeds it; ``unknown`` when the bracket straddles the target or is missing.
    """
    tol = 1e-9 * max(abs(target), 1.0)
    if upper is not None and math.isfinite(upper) and upper <= target + tol:
        return "meets target"
    if lower is not None and math.isfinite(lower) and lower > target + tol:
        return "overspends"
    return "unknown"
