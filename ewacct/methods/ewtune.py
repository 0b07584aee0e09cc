"""EW-Tune's accountant reproduced bit for bit (Behnia et al., "EW-Tune", ICDMW 2022).

Order-1 plain Edgeworth, REMOVE direction only, plug-in at ``c = eps``, and both tails formed as
``1 - F`` (with its cancellation), which reproduces EW-Tune's logs.  For comparison only: it
under-reports epsilon in EW-Tune's own settings (docs/math.md).
"""

from __future__ import annotations

import math

from ..expansions.edgeworth import EdgeworthLaw
from .base import Groups
from .edgeworth import EdgeworthMethod

#: EW-Tune accounts in the REMOVE direction only
EWTUNE_DIRECTIONS = ("remove",)


class EwTuneMethod(EdgeworthMethod):
    """The :class:`.base.Method` of EW-Tune mode (label ``"ew-tune"``, order 1)."""

    label = "ew-tune"

    def __init__(self, groups: Groups, order: int = 1) -> None:
        if order != 1:
            raise ValueError(f"order must be 1 for method 'ew-tune', got {order!r}")
        super().__init__(groups, 1)

    def raw_delta(self, law_p: EdgeworthLaw, law_q: EdgeworthLaw, eps: float) -> float:
        # faithful to EW-Tune: tails formed as 1 - F (with its cancellation), reproduces its logs
        return float((1.0 - law_p.cdf(eps)[0]) - math.exp(eps) * (1.0 - law_q.cdf(eps)[0]))
