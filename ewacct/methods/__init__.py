"""Accounting methods: each turns the log-MGF / cumulants of a composition into delta(eps) and eps(delta).

* :mod:`.exact` -- the saddle-point contour integral (the default; exact to a stated tolerance).
* the asymptotic expansions of that integral live in :mod:`ewacct.expansions` (tilted, Edgeworth,
  EW-Tune mode).
"""
