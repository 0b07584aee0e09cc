"""ewacct's own methods behind the baseline interface.

So that ``compare``, ``calibrate``, the report and the benchmarks treat every
accountant alike, ewacct's methods get the same adapter shape:

* ``ewacct`` -- the default: the exact engine (contour integral), ``is_bound = False``;
* ``ewacct-certified`` -- the certified bracket (``certify=True``); ``value`` is
  the certified upper bound, ``lower`` the certified lower bound;
* ``edgeworth-1``, ``edgeworth-2``, ``edgeworth-3`` -- plain Edgeworth of that order;
* ``ew-tune`` -- EW-Tune compatibility mode (order 1, remove direction, plug-in).

All of them call the public core API (``ewacct.Accountant``); nothing here
computes privacy itself.
"""

from __future__ import annotations

import inspect
import math
import warnings
from typing import Any

from ewacct.baselines._interface import Baseline, Groups

__all__ = ["EwacctBaseline"]


def _num(x: Any) -> float | None:
    if x is None:
        return None
    try:
        v = float(x)
    except (TypeError, ValueError):
        return None
    return v if not math.isnan(v) else None


class EwacctBaseline(Baseline):
    """One ewacct method as a baseline row.

    Args:
        method: the core method name (``None`` for the default estimate).
        order: the Edgeworth order, for ``method="edgeworth"``.
        certify: ask the core for a certified bracket.
        name: the registry name of this row.
        label: the human-readable label.
    """

    source = "ewacct"

    def __init__(
        self,
        *,
        method: str | None = None,
        order: int | None = None,
        certify: bool = False,
        name: str = "ewacct",
        label: str = "ewacct estimate",
    ) -> None:
        super().__init__()
        self.method = method
        self.order = order
        self.certify = certify
        self.name = name
        self.label = label
        self.is_bound = bool(certify)

    def _availability(self) -> tuple[bool, str]:
        try:
            import ewacct
        except Exception as exc:
            return False, f"ewacct core not importable ({type(exc).__name__}: {exc})".splitlines()[0]
        missing = [n for n in ("Accountant",) if not hasattr(ewacct, n)]
        if missing:
            return False, f"ewacct core lacks {', '.join(missing)} (not landed yet)"
        try:
            from ewacct import mechanisms

            getattr(mechanisms, "PoissonSubsampledGaussian")
        except Exception as exc:
            return False, f"ewacct.mechanisms.PoissonSubsampledGaussian missing ({type(exc).__name__})"
        return True, ""

    # ----- core calls ---------------------------------------------------------------
    def _accountant(self, groups: Groups) -> Any:
        import ewacct
        from ewacct.mechanisms import PoissonSubsampledGaussian

        kwargs: dict[str, Any] = {}
        params = inspect.signature(ewacct.Accountant).parameters
        if self.method is not None:
            kwargs["method"] = self.method
        if self.order is not None:
            if "order" in params:
                kwargs["order"] = self.order
            else:
                raise NotImplementedError("ewacct.Accountant does not take an Edgeworth order")
        acc = ewacct.Accountant(**kwargs)
        for sigma, q, count in groups:
            acc.compose(PoissonSubsampledGaussian(noise_multiplier=sigma, sampling_probability=q), count)
        return acc

    def _query(self, fn: Any, arg: float) -> tuple[Any, list[str]]:
        kwargs = {"certify": True} if self.certify else {}
        with warnings.catch_warnings(record=True) as caught:
            warnings.simplefilter("always")
            res = fn(arg, **kwargs)
        msgs = [str(w.message).splitlines()[0] for w in caught]
        return res, msgs

    def _fields(self, res: Any, msgs: list[str]) -> dict[str, Any]:
        value = _num(getattr(res, "value", res))
        lower = _num(getattr(res, "lower", None))
        upper = _num(getattr(res, "upper", None))
        estimate = _num(getattr(res, "estimate", None))
        valid = bool(getattr(res, "valid", True))
        extra: dict[str, Any] = {}
        for key in ("method", "direction", "certified_by", "order"):
            v = getattr(res, key, None)
            if v is not None:
                extra[key] = v if isinstance(v, (str, int, float, bool)) else str(v)
        diag = getattr(res, "diagnostics", None)
        if isinstance(diag, dict):
            extra["diagnostics"] = {k: v for k, v in diag.items() if isinstance(v, (str, int, float, bool))}
        note = "; ".join(dict.fromkeys(msgs)) if msgs else ""
        used = extra.get("method")
        if isinstance(diag, dict) and diag.get("fallback"):
            te = diag.get("tilted_estimate")
            prefix = f"answered by {used}" + (f" (tilted estimate {te:.6g} outside tolerance)" if isinstance(te, float) else "")
            note = prefix + (f"; {note}" if note else "")
        if self.certify and getattr(res, "certified_by", None):
            note = (f"certified by {res.certified_by}" + (f"; {note}" if note else ""))
        return {"value": value, "lower": lower, "upper": upper, "estimate": estimate, "valid": valid, "note": note, "extra": extra}

    def _epsilon(self, groups: Groups, target_delta: float) -> dict[str, Any]:
        acc = self._accountant(groups)
        res, msgs = self._query(acc.get_epsilon, target_delta)
        return self._fields(res, msgs)

    def _delta(self, groups: Groups, target_epsilon: float) -> dict[str, Any]:
        acc = self._accountant(groups)
        res, msgs = self._query(acc.get_delta, target_epsilon)
        return self._fields(res, msgs)
