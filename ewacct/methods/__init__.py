"""Accounting methods: each turns the log-MGF / cumulants of a composition into delta(eps) and eps(delta).

The interface is :class:`ewacct.methods.base.Method` (delta at eps and eps at delta for a composition
and a direction); :class:`ewacct.Accountant` composes and dispatches.

* :mod:`.dispatch` -- the exact method's chain, in one place: closed forms (:mod:`.closed`), the
  saddle-point contour integral (:mod:`.exact`, :mod:`.contour`; the default, exact to a stated
  tolerance), its far-mode truncation, direct quadrature of 2-3 steps (:mod:`.direct`), the
  few-participation quadrature (:mod:`.fewpart`), and a flagged Chernoff bound when none settles.
* :mod:`.certified` -- the rigorous enclosure of the contour integral behind ``certify=True``.
* the asymptotic expansions of that integral: :mod:`.tilted`, :mod:`.edgeworth`, :mod:`.ewtune`
  (their formulas live in :mod:`ewacct.expansions`).
"""
