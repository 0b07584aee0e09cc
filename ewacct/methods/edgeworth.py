"""Plain Edgeworth expansion of order ``order`` as a method, plug-in at ``c = eps``.

delta(eps) = P(L > eps) - e^eps Q(L > eps) with both tails from the Edgeworth laws of the composed
loss under P and Q (:class:`ewacct.expansions.edgeworth.EdgeworthLaw`), each tail formed directly
(scaled survival function, no ``1 - F`` cancellation); eps(delta) inverts it numerically.  Valid
while the first correction is at most ``EDGEWORTH_VALIDITY_THRESHOLD`` times the Gaussian tail
(docs/math.md, validity of the plain expansion).
"""

from __future__ import annotations

from ..expansions.edgeworth import EdgeworthLaw
from .base import Answer, Groups, beyond_loss_sup, composition_cgf, epsilon_by_inversion, loss_sup

#: plain Edgeworth: largest accepted first-correction / Gaussian-tail ratio (docs/math.md, validity of the plain expansion)
EDGEWORTH_VALIDITY_THRESHOLD = 1.0


class EdgeworthMethod:
    """The :class:`.base.Method` of plain Edgeworth of order ``order`` (label ``"edgeworth"``)."""

    label = "edgeworth"

    def __init__(self, groups: Groups, order: int) -> None:
        self.groups = list(groups)
        self.order = int(order)

    def laws(self, direction: str) -> tuple[EdgeworthLaw, EdgeworthLaw]:
        """Edgeworth laws of the composed loss under P and under Q (cumulants K^(j)(0), K^(j)(-1))."""
        cgf = composition_cgf(self.groups, direction)
        nmax = self.order + 2
        cum_p = cgf(0.0, nmax)[1:]
        cum_q = cgf(-1.0, nmax)[1:]
        return EdgeworthLaw(cum_p, self.order), EdgeworthLaw(cum_q, self.order)

    def raw_delta(self, law_p: EdgeworthLaw, law_q: EdgeworthLaw, eps: float) -> float:
        """P(L > eps) - e^eps Q(L > eps) from the two laws (may be negative)."""
        return float(law_p.scaled_sf(eps)[0] - law_q.scaled_sf(eps, eps)[0])

    def delta(self, eps: float, direction: str) -> Answer:
        if eps >= loss_sup(self.groups, direction):
            return beyond_loss_sup(self.label)
        law_p, law_q = self.laws(direction)
        d = self.raw_delta(law_p, law_q, eps)
        ratio = float(max(law_p.first_correction_ratio(eps)[0], law_q.first_correction_ratio(eps)[0]))
        valid = ratio <= EDGEWORTH_VALIDITY_THRESHOLD and d >= 0.0
        return Answer(max(d, 0.0), valid, {"first_correction_ratio": ratio, "raw_delta": d}, self.label)

    def epsilon(self, delta: float, direction: str) -> Answer:
        return epsilon_by_inversion(lambda e: self.delta(e, direction), delta)
