"""One small interface over every accountant that ewacct is compared against.

Every adapter (RDP, GDP/CLT, exact PLD, PRV, and ewacct's own methods) is a
:class:`Baseline`: it has a ``name``, says whether the number it reports is an
upper bound on the true epsilon (``is_bound``), says whether it can run here
(``available`` / ``reason``), and answers ``epsilon(groups, target_delta=...)``
and ``delta(groups, target_epsilon=...)`` with a timed :class:`BaselineResult`.

A *composition* is described by ``groups``: a sequence of
``(noise_multiplier, sampling_probability, count)`` triples of Poisson-subsampled
Gaussian steps, the canonical ledger form used by dp_accounting and Opacus.

Missing optional packages never raise: the adapter is marked unavailable and
its results carry ``value=None`` and a one-line ``note``. Bad user input (a
sigma <= 0, a q outside (0, 1], ...) raises ``ValueError`` before any library
is called.
"""

from __future__ import annotations

import abc
import math
import time
from dataclasses import dataclass, field
from typing import Any, Callable, Sequence

from ewacct import _validate


def importable(package: str, *modules: str, hint: str = "") -> tuple[bool, str]:
    """(True, "") when every module imports, else (False, one line naming the package and the error)."""
    import importlib

    try:
        for m in modules:
            importlib.import_module(m)
    except Exception as exc:
        msg = f"{package} not importable ({type(exc).__name__}: {exc})"
        return False, (msg.splitlines()[0] + (f"; {hint}" if hint else ""))
    return True, ""

Group = tuple[float, float, int]
Groups = tuple[Group, ...]

__all__ = [
    "Baseline",
    "BaselineResult",
    "Group",
    "Groups",
    "normalize_groups",
    "check_count",
    "check_delta",
    "check_epsilon",
    "check_noise_multiplier",
    "check_sampling_probability",
]


def check_noise_multiplier(value: Any, name: str = "noise_multiplier") -> float:
    """Validate a noise multiplier: a finite number > 0 (the core's validator).

    Raises:
        ValueError: naming the argument and the allowed range.
    """
    return _validate.check_positive(name, value)


def check_sampling_probability(value: Any, name: str = "sampling_probability") -> float:
    """Validate a sampling probability: a number in (0, 1] (the core's validator).

    Raises:
        ValueError: naming the argument and the allowed range.
    """
    return _validate.check_probability(name, value)


def check_count(value: Any, name: str = "count") -> int:
    """Validate a step count: a non-negative integer (the core's validator).

    Raises:
        ValueError: naming the argument and the allowed range.
    """
    return _validate.check_count(name, value)


def check_delta(value: Any, name: str = "target_delta") -> float:
    """Validate a delta: a number in (0, 1) (the core's validator).

    Raises:
        ValueError: naming the argument and the allowed range.
    """
    return _validate.check_open_unit(name, value)


def check_epsilon(value: Any, name: str = "target_epsilon") -> float:
    """Validate an epsilon: a finite number >= 0 (the core's validator).

    Raises:
        ValueError: naming the argument and the allowed range.
    """
    return _validate.check_nonnegative(name, value)


def normalize_groups(groups: Sequence[Sequence[Any]]) -> Groups:
    """Validate a composition and return it as a tuple of ``(sigma, q, count)``.

    Groups with ``count == 0`` are dropped; consecutive identical groups are
    merged (composition is commutative, so this does not change the answer).

    Args:
        groups: sequence of ``(noise_multiplier, sampling_probability, count)``.

    Returns:
        The validated, merged groups.

    Raises:
        ValueError: on a malformed triple, an out-of-range parameter, or when
            nothing is composed (an empty composition).
    """
    if isinstance(groups, (str, bytes)) or not hasattr(groups, "__iter__"):
        raise ValueError(f"groups must be a sequence of (noise_multiplier, sampling_probability, count), got {groups!r}")
    out: list[Group] = []
    for g in groups:
        try:
            sigma_raw, q_raw, count_raw = g
        except (TypeError, ValueError):
            raise ValueError(
                f"each group must be (noise_multiplier, sampling_probability, count), got {g!r}"
            ) from None
        sigma = check_noise_multiplier(sigma_raw)
        q = check_sampling_probability(q_raw)
        count = check_count(count_raw)
        if count == 0:
            continue
        if out and out[-1][0] == sigma and out[-1][1] == q:
            out[-1] = (sigma, q, out[-1][2] + count)
        else:
            out.append((sigma, q, count))
    if not out:
        raise ValueError("groups must compose at least one step (got an empty composition)")
    return tuple(out)


def total_steps(groups: Groups) -> int:
    """Total number of composed steps."""
    return sum(g[2] for g in groups)


@dataclass(frozen=True)
class BaselineResult:
    """The answer of one accountant to one query.

    Attributes:
        name: the accountant's registry name.
        query: ``"epsilon"`` or ``"delta"``.
        value: the number the accountant reports (epsilon or delta); ``None``
            when the accountant is unavailable or does not support the query.
        lower: a lower bound on the true value, when the accountant gives one.
        upper: an upper bound on the true value, when the accountant gives one.
        estimate: a point estimate, when it differs from ``value``.
        is_bound: whether ``value`` is an upper bound on the true value
            (a guarantee), as opposed to an estimate or a lower bound.
        valid: False when the method says the answer is outside its validity domain.
        seconds: wall time of the query (including composition), in seconds.
        note: one line of context (discretisation, unavailability reason, ...).
        extra: method-specific details (e.g. GDP's mu, RDP's best order).
    """

    name: str
    query: str
    value: float | None
    lower: float | None = None
    upper: float | None = None
    estimate: float | None = None
    is_bound: bool = False
    valid: bool = True
    seconds: float = 0.0
    note: str = ""
    extra: dict[str, Any] = field(default_factory=dict)

    @property
    def ok(self) -> bool:
        """Whether a value was produced."""
        return self.value is not None

    def to_dict(self) -> dict[str, Any]:
        """A JSON-serialisable dict (non-finite floats become strings)."""

        def conv(v: Any) -> Any:
            if isinstance(v, float) and not math.isfinite(v):
                return str(v)
            if isinstance(v, dict):
                return {k: conv(x) for k, x in v.items()}
            if isinstance(v, (list, tuple)):
                return [conv(x) for x in v]
            return v

        return {
            "name": self.name,
            "query": self.query,
            "value": conv(self.value),
            "lower": conv(self.lower),
            "upper": conv(self.upper),
            "estimate": conv(self.estimate),
            "is_bound": self.is_bound,
            "valid": self.valid,
            "seconds": self.seconds,
            "note": self.note,
            "extra": conv(self.extra),
        }


class Baseline(abc.ABC):
    """Abstract adapter: one accountant behind one small interface.

    Subclasses set the class attributes and implement :meth:`_epsilon` (and
    :meth:`_delta` when supported) plus :meth:`_availability`.

    Attributes:
        name: short registry name (used by ``--methods``).
        label: human-readable name for tables and plots.
        is_bound: whether the reported value is an upper bound on the true epsilon.
        source: the library (and version) that does the work.
    """

    name: str = ""
    label: str = ""
    is_bound: bool = False
    source: str = ""
    supports_delta: bool = True

    def __init__(self) -> None:
        self._avail: tuple[bool, str] | None = None

    # ----- availability -------------------------------------------------------------
    @abc.abstractmethod
    def _availability(self) -> tuple[bool, str]:
        """Return ``(True, "")`` or ``(False, reason)``; must not raise."""

    @property
    def available(self) -> bool:
        """Whether the accountant can run here."""
        return self.availability()[0]

    @property
    def reason(self) -> str:
        """Why the accountant is unavailable ("" when it is available)."""
        return self.availability()[1]

    def availability(self) -> tuple[bool, str]:
        """``(available, reason)``, computed once and cached."""
        if self._avail is None:
            try:
                self._avail = self._availability()
            except Exception as exc:  # an optional package failing to import in an odd way
                self._avail = (False, f"{type(exc).__name__}: {exc}")
        return self._avail

    # ----- queries ------------------------------------------------------------------
    @abc.abstractmethod
    def _epsilon(self, groups: Groups, target_delta: float) -> dict[str, Any]:
        """Return a dict of :class:`BaselineResult` fields (at least ``value``)."""

    def _delta(self, groups: Groups, target_epsilon: float) -> dict[str, Any]:
        """Return a dict of :class:`BaselineResult` fields for delta(eps)."""
        raise NotImplementedError

    def epsilon(self, groups: Sequence[Sequence[Any]], *, target_delta: float) -> BaselineResult:
        """Epsilon at ``target_delta`` for the composition ``groups``.

        Args:
            groups: ``(noise_multiplier, sampling_probability, count)`` triples.
            target_delta: the delta in (0, 1).

        Returns:
            A timed :class:`BaselineResult`; ``value`` is None with a note when the
            accountant is unavailable or its library failed.

        Raises:
            ValueError: on invalid ``groups`` or ``target_delta``.
        """
        g = normalize_groups(groups)
        d = check_delta(target_delta, "target_delta")
        return self._run("epsilon", self._epsilon, g, d)

    def delta(self, groups: Sequence[Sequence[Any]], *, target_epsilon: float) -> BaselineResult:
        """Delta at ``target_epsilon`` for the composition ``groups``.

        Args:
            groups: ``(noise_multiplier, sampling_probability, count)`` triples.
            target_epsilon: the epsilon, >= 0.

        Returns:
            A timed :class:`BaselineResult` (``value`` None when unsupported).

        Raises:
            ValueError: on invalid ``groups`` or ``target_epsilon``.
        """
        g = normalize_groups(groups)
        e = check_epsilon(target_epsilon, "target_epsilon")
        if not self.supports_delta:
            return BaselineResult(
                name=self.name, query="delta", value=None, is_bound=self.is_bound,
                note=f"{self.label} does not answer delta(eps)",
            )
        return self._run("delta", self._delta, g, e)

    def _run(self, query: str, fn: Callable[[Groups, float], dict[str, Any]], groups: Groups, arg: float) -> BaselineResult:
        ok, why = self.availability()
        if not ok:
            return BaselineResult(
                name=self.name, query=query, value=None, is_bound=self.is_bound,
                note=f"unavailable: {why}",
            )
        t0 = time.perf_counter()
        try:
            fields = fn(groups, arg)
        except Exception as exc:  # inputs are validated above: a failure here is the library's
            return BaselineResult(
                name=self.name, query=query, value=None, is_bound=self.is_bound,
                seconds=time.perf_counter() - t0,
                note=f"failed: {type(exc).__name__}: {exc}".splitlines()[0],
            )
        seconds = float(fields.pop("seconds", time.perf_counter() - t0))
        fields.setdefault("is_bound", self.is_bound)
        return BaselineResult(name=self.name, query=query, seconds=seconds, **fields)

    def __repr__(self) -> str:
        ok, why = self.availability()
        state = "available" if ok else f"unavailable: {why}"
        return f"<{type(self).__name__} {self.name!r} ({state})>"
