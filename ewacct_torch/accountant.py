"""An Opacus accountant backed by ewacct (Edgeworth / saddlepoint accounting).

`EWAccountant` implements Opacus' ``IAccountant`` interface. It keeps Opacus'
``history`` list of ``(noise_multiplier, sample_rate, num_steps)`` entries and
computes epsilon from that list *at query time*, because Opacus' own
calibration (``opacus.accountants.utils.get_noise_multiplier``) assigns
``history`` directly and never calls :meth:`EWAccountant.step`.

With Opacus >= 1.6 the class is registered under the name ``"ew"`` when this
module is imported, so ``PrivacyEngine(accountant="ew")``,
``make_private_with_epsilon`` and ``get_noise_multiplier(accountant="ew")``
work unchanged. For older Opacus (no registry) use :func:`attach_accountant`
and :func:`calibrate_noise_multiplier` (see ``docs/finetune.md``).

What the returned float means is explicit: ``get_epsilon(delta)`` returns the
*certified* upper bound when the core can certify one, and otherwise the
Edgeworth *estimate*, with a warning saying so. ``bound="estimate"`` asks for
the estimate directly.

Cost of a query: the history is merged into distinct ``(noise_multiplier,
sample_rate)`` segments; the accountant keeps one core ``ewacct.Accountant``
for the merged history (extended in place when steps were only added) and the
answers already given for it, so a repeated query costs a dictionary look-up
and a fresh one costs one core query, whose price depends on the number of
distinct segments, not on the number of steps. ``get_epsilon`` (certified) asks the
core's certificate alone (``ewacct.bounds.certify.certified_epsilon``, the upper end
of ``ewacct.Accountant.get_epsilon(delta, certify=True)``), without the exact
engine's float estimate; ``epsilons`` asks the full certified result (where the
contour enclosure certifies within the exact tolerance it carries its own estimate
and the engine's separate float query is not made).

Importing this module also routes Opacus' ``get_noise_multiplier`` (and so
``PrivacyEngine.make_private_with_epsilon``) for the ``"ew"`` accountants to
:func:`calibrate_noise_multiplier`, a direct search with the core engine that
ends on the safe side; every other accountant name goes to Opacus' own
function unchanged (:func:`install_noise_calibration`).
"""

from __future__ import annotations

import functools
import math
import warnings
from collections import OrderedDict
from collections.abc import Iterable, Mapping, Sequence
from copy import deepcopy
from typing import Any, Literal

import ewacct
from opacus.accountants import IAccountant

__all__ = [
    "CertificationUnavailableWarning",
    "EWAccountant",
    "STATE_VERSION",
    "attach_accountant",
    "calibrate_noise_multiplier",
    "get_noise_multiplier",
    "install_noise_calibration",
    "load_kernels",
    "make_accountant_class",
    "merge_history",
    "register",
    "opacus_has_registry",
]

#: Version of the layout written by :meth:`EWAccountant.state_dict`.
STATE_VERSION = 1

Bound = Literal["certified", "estimate"]
_BOUNDS = ("certified", "estimate")


class CertificationUnavailableWarning(UserWarning):
    """The certified bound could not be computed; the estimate was returned."""


def _check_entry(entry: Sequence[Any]) -> tuple[float, float, int]:
    """Validate one Opacus history entry and return it as a typed tuple.

    Opacus' semantics: a noise multiplier of 0 (no noise: epsilon is inf) and a sample rate of 0 (the
    step spends nothing) are accepted; otherwise the core's domain applies (noise multiplier in
    [0.05, 1e4], steps an integer up to 1e12).  Booleans, strings, NaN and inf are refused with a
    ValueError naming the argument.
    """
    from ewacct import _validate as V

    if len(entry) != 3:
        raise ValueError(
            "history entries must be (noise_multiplier, sample_rate, num_steps), "
            f"got {entry!r}"
        )
    sigma_in, q_in, n_in = entry
    if _real_zero(sigma_in):
        sigma = 0.0
    else:
        sigma = V.check_dpsgd_noise_multiplier(sigma_in, "noise_multiplier")
    q = 0.0 if _real_zero(q_in) else V.check_probability("sample_rate", q_in)
    n = V.check_count("num_steps", n_in)
    if n > V.STEPS_MAX:
        raise ValueError(f"num_steps must be an integer in [0, {V.STEPS_MAX:.0e}], got {n_in!r}")
    return sigma, q, n


def _real_zero(value: Any) -> bool:
    """True for a real (non-bool, non-string) zero."""
    if isinstance(value, (bool, str, bytes)) or value is None:
        return False
    try:
        return float(value) == 0.0
    except (TypeError, ValueError):
        return False


def merge_history(
    history: Iterable[Sequence[Any]],
) -> list[tuple[float, float, int]]:
    """Merge consecutive entries with the same noise and sample rate.

    Entries with zero steps or a zero sample rate are dropped (they spend no
    privacy). Order is otherwise kept.

    Args:
        history: Opacus-style ``(noise_multiplier, sample_rate, num_steps)``.

    Returns:
        The merged list of ``(noise_multiplier, sample_rate, num_steps)``.
    """
    merged: list[tuple[float, float, int]] = []
    for entry in history:
        sigma, q, n = _check_entry(entry)
        if n == 0 or q == 0.0:
            continue
        if merged and merged[-1][0] == sigma and merged[-1][1] == q:
            merged[-1] = (sigma, q, merged[-1][2] + n)
        else:
            merged.append((sigma, q, n))
    return merged


def _check_delta(delta: float) -> float:
    from ewacct import _validate as V

    return V.check_open_unit("delta", delta)


def _check_bound(bound: str) -> Bound:
    if bound not in _BOUNDS:
        raise ValueError(f"bound must be one of {_BOUNDS}, got {bound!r}")
    return bound  # type: ignore[return-value]


_LOADED: set[tuple[str | None, str]] = set()


def load_kernels(*, method: str | None = None, bound: Bound = "certified") -> bool:
    """Pay ewacct's once-per-process start-up now rather than in the first query.

    The first query of a process loads ewacct's compiled Numba kernels from the on-disk cache
    (compiling them when the cache is empty), and before that Numba initialises its own type and
    implementation registries; together about 0.3-0.4 s of CPU with a warm cache (see
    ``docs/finetune.md``, measured in ``docs/benchmarks_torch.md``). This function answers one
    throwaway query of the given setting (7 steps, q = 0.01, sigma = 1.37, delta = 1e-5: a history
    unlikely to be asked, so that no later answer is a cached copy of it), which loads what that
    setting's queries use (the same 11 kernels serve certified queries of 7 to 2,000 steps at
    q = 0.01). It runs once per process and ``(method, bound)``; :class:`EWAccountant`'s
    constructor calls it (:attr:`EWAccountant.preload_kernels`).

    It moves the cost, it does not remove it. It never raises: a failure here is reported by the
    real query, where it belongs.

    Returns:
        ``True`` when this call did the loading, ``False`` when it had been done (or failed).
    """
    key = (method, _check_bound(bound))
    if key in _LOADED or (key[1] == "estimate" and (method, "certified") in _LOADED):
        return False
    _LOADED.add(key)
    try:
        acc = EWAccountant(method=method, bound=key[1])  # (its own preload finds the key taken)
        acc.history = [(1.37, 0.01, 7)]
        with warnings.catch_warnings():
            warnings.simplefilter("ignore")
            acc.get_epsilon(1e-5)
    except Exception:  # noqa: BLE001 - the user's own query raises it again, with its context
        return False
    return True


class EWAccountant(IAccountant):
    """Opacus accountant that composes Poisson-subsampled Gaussians with ewacct.

    The constructor works with no arguments (Opacus' registry calls it that
    way). Settings are keyword-only and are saved in :meth:`state_dict`.

    Args:
        method: ewacct method (``None`` selects the core default; also
            ``"edgeworth"``, ``"ew-tune"``, ``"auto"``, ``"tilted"``).
        bound: What :meth:`get_epsilon` returns by default: ``"certified"``
            (the certified upper bound, falling back to the estimate with a
            warning when the core cannot certify) or ``"estimate"``.
    """

    def __init__(self, *, method: str | None = None, bound: Bound = "certified") -> None:
        super().__init__()
        self.method = method
        self.bound: Bound = _check_bound(bound)
        self._reset_cache()
        if self.preload_kernels:
            load_kernels(method=method, bound=self.bound)

    #: construct-time kernel load (:func:`load_kernels`, once per process and setting): the first
    #: accountant of a process (``PrivacyEngine(accountant="ew")``) pays ewacct's one-off Numba
    #: start-up, so the training loop's first ``get_epsilon`` does not. Set to ``False`` on the
    #: class to leave it to the first query instead (the cost is the same, only moved).
    preload_kernels: bool = True

    # ------------------------------------------------------------------- caching
    #: most answers kept for one history (different deltas / bounds)
    _MAX_CACHED = 64
    #: marks ewacct accountant classes across module reloads (see ``get_noise_multiplier``)
    _EWACCT_ACCOUNTANT = True
    #: seconds the core's contour certificate may take before the core answers with its proven
    #: but wider fallback (a Chernoff upper bound, 25-70 % above the truth at q = 0.01 over
    #: 10-300 steps). The core's own default (1 s) is met or missed depending on the machine's
    #: load, which made the stated epsilon, and the sigma calibrated on it, depend on the load;
    #: 10 s lets the contour finish wherever it can (1-3 s at most on a loaded 2-core machine).
    certify_time_budget: float = 10.0

    def _reset_cache(self) -> None:
        # the core accountant holding ``_core_key``'s segments, and the answers given for it
        self._core: Any = None
        self._core_key: tuple[Any, ...] | None = None
        self._answers: dict[tuple[float, Any], Any] = {}
        self._mechs: dict[tuple[float, float], Any] = {}
        self.cache_stats = {"hits": 0, "queries": 0, "extended": 0, "rebuilt": 0}

    def _key(self) -> tuple[Any, ...]:
        """What the answer depends on: the method and the merged history."""
        return (self.method, tuple(merge_history(self.history)))

    def _mechanism(self, sigma: float, q: float) -> Any:
        mech = self._mechs.get((sigma, q))
        if mech is None:
            mech = ewacct.PoissonSubsampledGaussian(noise_multiplier=sigma, sampling_probability=q)
            if len(self._mechs) > 1024:
                self._mechs.clear()
            self._mechs[(sigma, q)] = mech
        return mech

    def _core_for(self, key: tuple[Any, ...]) -> Any:
        """The core accountant of ``key``: the cached one, extended in place, or a new one.

        When the new history only adds steps to the last segment and/or appends
        segments (what :meth:`step` does), the cached core accountant is
        extended with ``compose``; any other change rebuilds it.
        """
        if not hasattr(self, "_answers"):  # a subclass that skipped __init__, or an old pickle
            self._reset_cache()
        if key == self._core_key:
            return self._core
        self._answers = {}
        method, segs = key
        old = self._core_key
        core = self._core
        added: list[tuple[float, float, int]] | None = None
        extendable = core is not None and not isinstance(core, float) and old is not None
        if (extendable and old[0] == method and old[1] and len(segs) >= len(old[1])
                and segs[: len(old[1]) - 1] == old[1][:-1]):
            (s0, q0, n0), (s1, q1, n1) = old[1][-1], segs[len(old[1]) - 1]
            if s0 == s1 and q0 == q1 and n1 >= n0:
                added = ([(s1, q1, n1 - n0)] if n1 > n0 else []) + list(segs[len(old[1]):])
        if added is not None and all(sigma > 0.0 for sigma, _, _ in added):
            for sigma, q, n in added:
                core.compose(self._mechanism(sigma, q), count=n)
            self.cache_stats["extended"] += 1
        elif not segs:
            core = None
        elif any(sigma == 0.0 for sigma, _, _ in segs):
            core = math.inf
        else:
            core = ewacct.Accountant(method=method)
            for sigma, q, n in segs:
                core.compose(self._mechanism(sigma, q), count=n)
            self.cache_stats["rebuilt"] += 1
        self._core, self._core_key = core, key
        return core

    def __getstate__(self) -> dict[str, Any]:
        # the core accountant holds closures (not picklable) and is rebuilt on demand
        state = dict(self.__dict__)
        for name in ("_core", "_core_key", "_answers", "_mechs"):
            state.pop(name, None)
        return state

    def __setstate__(self, state: dict[str, Any]) -> None:
        self.__dict__.update(state)
        self._reset_cache()

    # ----------------------------------------------------------------- Opacus API
    @classmethod
    def mechanism(cls) -> str:
        """Registry name of this accountant (``"ew"``)."""
        return "ew"

    def step(self, *, noise_multiplier: float, sample_rate: float) -> None:
        """Record one optimizer step, merging it into the last identical entry.

        Args:
            noise_multiplier: Noise multiplier of this step.
            sample_rate: Poisson sampling rate of this step.
        """
        sigma, q, _ = _check_entry((noise_multiplier, sample_rate, 1))
        if self.history:
            last = self.history[-1]
            if float(last[0]) == sigma and float(last[1]) == q:
                self.history[-1] = (last[0], last[1], int(last[2]) + 1)
                return
        self.history.append((sigma, q, 1))

    def __len__(self) -> int:
        """Number of optimizer steps recorded (not the number of segments)."""
        return sum(int(entry[2]) for entry in self.history)

    def get_epsilon(
        self, delta: float, *args: Any, bound: Bound | None = None, **kwargs: Any
    ) -> float:
        """Epsilon spent so far at ``delta``, computed from ``self.history``.

        Changes nothing but the accountant's cache. Unknown positional and keyword arguments are
        accepted and ignored (Opacus forwards ``make_private_with_epsilon``'s
        extra kwargs here).

        Args:
            delta: Target delta, in (0, 1).
            *args: Ignored.
            bound: ``"certified"`` or ``"estimate"``; defaults to the
                accountant's ``bound`` setting.
            **kwargs: Ignored.

        Returns:
            Epsilon as a float (``0.0`` for an empty history, ``inf`` when a
            step had no noise).
        """
        del args, kwargs
        chosen = self.bound if bound is None else _check_bound(bound)
        if chosen == "certified":
            upper = self._certified_upper(delta)
            if upper is not None:
                return upper
        # (the estimate is always the core's plain query, never read off a cached certified
        # result, so that an answer does not depend on the queries made before it)
        result = self.get_epsilon_result(delta, certify=chosen == "certified")
        if result is None:
            return 0.0
        if isinstance(result, float):
            return result
        if chosen == "certified" and not _is_certified(result):
            warnings.warn(
                "ewacct could not certify an upper bound for this history; "
                "get_epsilon returns the Edgeworth estimate instead "
                f"(method={result.method!r}). Pass bound='estimate' to silence this.",
                CertificationUnavailableWarning,
                stacklevel=2,
            )
            return float(result.estimate if result.estimate is not None else result.value)
        if chosen == "certified":
            return float(result.upper if result.upper is not None else result.value)
        return float(result.estimate if result.estimate is not None else result.value)

    def get_epsilon_result(self, delta: float, *, certify: bool = False) -> Any:
        """Full ewacct result for the recorded history.

        Answers are cached per history: asking again for the same history and
        ``delta`` costs a look-up; after steps were added the core accountant
        is extended, not rebuilt (see the module docstring).

        Args:
            delta: Target delta, in (0, 1).
            certify: Ask the core for the certified upper bound.

        Returns:
            An ``ewacct.EpsilonResult``; ``None`` for an empty history and
            ``math.inf`` when some step had zero noise. When ``certify`` is
            true and the core cannot certify, the estimate's result is returned
            (check ``certified_by``). The object is shared with the cache:
            do not modify it.
        """
        d = _check_delta(delta)
        acc = self._core_for(self._key())
        self.cache_stats["queries"] += 1
        if acc is None or isinstance(acc, float):
            return acc
        slot = (d, bool(certify))
        if slot in self._answers:
            self.cache_stats["hits"] += 1
            return self._answers[slot]
        result = None
        if certify:
            try:
                with warnings.catch_warnings():
                    # The certified upper bound is what is used; the core's remarks
                    # about the estimate (validity, bracket) do not apply to it.
                    warnings.simplefilter("ignore", ewacct.EdgeworthValidityWarning)
                    # the core answers from its contour enclosure alone where that certifies
                    # (no separate float query of the exact engine), else estimate + certificate
                    result = acc.get_epsilon(
                        d, certify=True,
                        certify_options={"time_budget": float(self.certify_time_budget)})
            except (NotImplementedError, ArithmeticError, ImportError):
                result = None
        if result is None:
            result = self._answers.get((d, False))
            if result is None:
                result = acc.get_epsilon(d)
                self._remember((d, False), result)
        self._remember(slot, result)
        return result

    def _certified_upper(self, delta: float) -> float | None:
        """The certified upper bound alone: the core's certificate
        (``ewacct.bounds.certify.certified_epsilon``, the source of
        ``get_epsilon(delta, certify=True, certify_options={"time_budget":
        self.certify_time_budget}).upper``; another budget may end on another
        proven bracket, ~1e-11 apart) without the exact engine's
        float estimate, which the core computes beside it wherever the bracket
        is wider than the exact tolerance (the first calls of a training run,
        few participations: ~15 % of the certified query there).

        Returns:
            The upper bound; ``0.0`` for an empty history, ``inf`` after a step
            without noise; ``None`` where the core cannot certify (the caller
            then takes the full result's path, which warns).
        """
        d = _check_delta(delta)
        acc = self._core_for(self._key())
        self.cache_stats["queries"] += 1
        if acc is None:
            return 0.0
        if isinstance(acc, float):
            return acc
        slot = (d, "upper")
        hit = self._answers.get(slot)
        if hit is None:
            full = self._answers.get((d, True))  # a full certified result already holds it
            if full is not None and not isinstance(full, float) and _is_certified(full):
                hit = float(full.upper)
        if hit is not None:
            self.cache_stats["hits"] += 1
            return hit
        try:
            from ewacct.bounds.certify import certified_epsilon

            cert = certified_epsilon(acc, d, time_budget=float(self.certify_time_budget))
        except (NotImplementedError, ArithmeticError, ImportError):
            return None
        upper = float(cert.upper)
        if math.isnan(upper) or upper < 0.0:
            return None
        self._remember(slot, upper)
        return upper

    def _remember(self, slot: tuple[float, Any], result: Any) -> None:
        if len(self._answers) >= self._MAX_CACHED:
            self._answers.pop(next(iter(self._answers)))
        self._answers[slot] = result

    def epsilons(self, delta: float) -> dict[str, float]:
        """Estimate and certified epsilon for the recorded history.

        Args:
            delta: Target delta, in (0, 1).

        Returns:
            ``{"estimate", "certified", "certified_lower"}``: the estimate and
            the certified bracket ``[certified_lower, certified]`` (``nan``
            when the core cannot certify).
        """
        res = self.get_epsilon_result(delta, certify=True)
        if res is None:
            return {"estimate": 0.0, "certified": 0.0, "certified_lower": 0.0}
        if isinstance(res, float):
            return {"estimate": res, "certified": res, "certified_lower": res}
        ok = _is_certified(res)
        return {
            "estimate": float(res.estimate),
            "certified": float(res.upper) if ok else math.nan,
            "certified_lower": float(res.lower) if ok and res.lower is not None else math.nan,
        }

    def to_ewacct(self) -> Any:
        """Build a fresh ``ewacct.Accountant`` holding the recorded history.

        The accountant's own cached core object is not handed out (it is
        extended in place as steps are added); this is an independent copy.

        Returns:
            The core accountant, ``None`` for an empty history, or ``math.inf``
            when a step with zero noise was recorded.
        """
        merged = merge_history(self.history)
        if not merged:
            return None
        if any(sigma == 0.0 for sigma, _, _ in merged):
            return math.inf
        acc = ewacct.Accountant(method=self.method)
        for sigma, q, n in merged:
            acc.compose(
                ewacct.PoissonSubsampledGaussian(
                    noise_multiplier=sigma, sampling_probability=q
                ),
                count=n,
            )
        return acc

    # ------------------------------------------------------------- persistence
    def settings(self) -> dict[str, Any]:
        """The settings that change what epsilon means (saved in checkpoints)."""
        return {"method": self.method, "bound": self.bound}

    def state_dict(self, destination: Any = None) -> Any:
        """Opacus' ``history`` and ``mechanism`` keys plus ``version`` and ``settings``."""
        if destination is None:
            destination = OrderedDict()
        destination["history"] = deepcopy(self.history)
        destination["mechanism"] = self.mechanism()
        destination["version"] = STATE_VERSION
        destination["settings"] = self.settings()
        return destination

    def load_state_dict(self, state_dict: Mapping[str, Any]) -> None:
        """Load a state written by :meth:`state_dict` of the same configuration.

        Raises:
            ValueError: the dict is empty or lacks a key, was written by another
                mechanism or a newer layout, or its settings differ from this
                accountant's.
        """
        if not state_dict:
            raise ValueError(
                "state dict is either None or empty and hence cannot be loaded"
                " into Privacy Accountant."
            )
        for key in ("history", "mechanism", "version", "settings"):
            if key not in state_dict:
                raise ValueError(
                    f"state_dict does not have the key `{key}`; it was not written by "
                    "ewacct_torch.EWAccountant and cannot be loaded."
                )
        if state_dict["mechanism"] != self.mechanism():
            raise ValueError(
                f"state_dict of {state_dict['mechanism']} cannot be loaded into "
                f"Privacy Accountant with mechanism {self.mechanism()}"
            )
        version = state_dict["version"]
        if not isinstance(version, int) or version > STATE_VERSION or version < 1:
            raise ValueError(
                f"state_dict version {version!r} is not supported by this ewacct_torch "
                f"(supports 1..{STATE_VERSION})"
            )
        theirs = dict(state_dict["settings"])
        mine = self.settings()
        if theirs != mine:
            diff = {
                k: (theirs.get(k), mine.get(k))
                for k in sorted(set(theirs) | set(mine))
                if theirs.get(k) != mine.get(k)
            }
            raise ValueError(
                "cannot load an ewacct accountant state with different settings "
                f"(saved, current): {diff}. Build the accountant with the saved "
                "settings to continue this budget."
            )
        history = [tuple(_check_entry(e)) for e in state_dict["history"]]
        self.history = history

    def __repr__(self) -> str:
        return (
            f"{type(self).__name__}(method={self.method!r}, bound={self.bound!r}, "
            f"steps={len(self)}, segments={len(self.history)})"
        )


def _is_certified(result: Any) -> bool:
    """Whether an ewacct result carries a certified upper bound."""
    if result is None or isinstance(result, float):
        return True
    # ``valid`` describes the estimate; a certified bracket stands on its own.
    return (
        getattr(result, "certified_by", None) is not None
        and getattr(result, "upper", None) is not None
    )


def core_calibrate_noise() -> Any:
    """``ewacct.calibrate_noise`` (from the package root, or its module)."""
    fn = getattr(ewacct, "calibrate_noise", None)
    if fn is None:
        from ewacct.calibrate import calibrate_noise as fn
    return fn


# ------------------------------------------------------------------ registry
def opacus_has_registry() -> bool:
    """Whether the installed Opacus has ``register_accountant`` (Opacus >= 1.6)."""
    import opacus.accountants as oa

    return hasattr(oa, "register_accountant")


def make_accountant_class(
    name: str, *, method: str | None = None, bound: Bound = "certified"
) -> type[EWAccountant]:
    """A zero-argument :class:`EWAccountant` subclass with fixed settings.

    Opacus' registry instantiates accountants with no arguments and
    ``make_private_with_epsilon`` looks the class up by ``mechanism()``, so a
    differently configured accountant needs its own class and name.

    Args:
        name: The registry name returned by ``mechanism()``.
        method: ewacct method for this class.
        bound: Default bound for this class.

    Returns:
        The new class.
    """
    _check_bound(bound)

    def __init__(self: EWAccountant) -> None:
        EWAccountant.__init__(self, method=method, bound=bound)

    return type(
        f"EWAccountant_{name.replace('-', '_')}",
        (EWAccountant,),
        {"__init__": __init__, "mechanism": classmethod(lambda cls: name)},
    )


def register(
    name: str = "ew",
    accountant: type[IAccountant] = EWAccountant,
    *,
    force: bool = False,
) -> bool:
    """Register an accountant class with Opacus' registry, idempotently.

    Args:
        name: Registry name.
        accountant: The class to register.
        force: Replace a different class already registered under ``name``.

    Returns:
        True when the class is (now) registered, False when Opacus has no
        registry (Opacus < 1.6; use :func:`attach_accountant`).

    Raises:
        ValueError: ``name`` is taken by a different class and ``force`` is false.
    """
    if not opacus_has_registry():
        return False
    from opacus.accountants import registry

    existing = registry._ACCOUNTANTS.get(name)  # noqa: SLF001 - read-only peek
    if existing is accountant:
        return True
    if existing is not None and not force and _same_class(existing, accountant):
        # Same class re-imported (e.g. module reloaded): replace silently.
        force = True
    registry.register_accountant(name, accountant, force=force)
    return True


def _same_class(a: type, b: type) -> bool:
    return a.__module__ == b.__module__ and a.__qualname__ == b.__qualname__


# -------------------------------------------------- fallback for older Opacus
def attach_accountant(engine: Any, accountant: IAccountant | None = None) -> IAccountant:
    """Put an ewacct accountant into an existing ``PrivacyEngine``.

    Call this *before* ``engine.make_private(...)``, so that the optimizer
    hook binds to the new accountant. Works with every Opacus version (this is
    the path for Opacus < 1.6, which has no registry). Do not use
    ``make_private_with_epsilon`` on old Opacus; calibrate with
    :func:`calibrate_noise_multiplier` and call ``make_private``.

    Args:
        engine: An ``opacus.PrivacyEngine``.
        accountant: The accountant to attach (a new :class:`EWAccountant` if None).

    Returns:
        The attached accountant.

    Raises:
        ValueError: the engine's accountant has already recorded steps.
    """
    if len(engine.accountant) > 0:
        raise ValueError(
            "attach_accountant must be called before training: the engine's "
            f"accountant already holds {len(engine.accountant)} steps"
        )
    acc = accountant if accountant is not None else EWAccountant()
    engine.accountant = acc
    return acc


def calibrate_noise_multiplier(
    *,
    target_epsilon: float,
    target_delta: float,
    sample_rate: float,
    epochs: float | None = None,
    steps: int | None = None,
    method: str | None = None,
    guarantee: Bound = "certified",
    checker: EWAccountant | None = None,
) -> float:
    """Noise multiplier reaching ``(target_epsilon, target_delta)`` with ewacct.

    Uses Opacus' step convention: ``steps = int(epochs / sample_rate)`` when
    ``epochs`` is given. The search is the core's ``calibrate_noise`` on the
    exact engine (no PLD, no certificate inside the search): the smallest sigma
    whose exact epsilon meets the target, to a relative 1e-6. That sigma is
    then checked the way :class:`EWAccountant` will report it
    (``EWAccountant(method, bound=guarantee).get_epsilon``, the certified upper
    bound by default) and, where that number is above the target, raised by the
    smallest step that brings it to <= ``target_epsilon`` (to a relative 1e-4 on
    sigma, by regula falsi on log eps; a tight certified bracket needs one or two
    certified queries, a looser fallback certificate four or five). The
    returned sigma is therefore on the safe side of the number the accountant
    states after training.

    Args:
        target_epsilon: Target epsilon (> 0).
        target_delta: Target delta, in (0, 1).
        sample_rate: Poisson sampling rate (Opacus: ``1 / len(data_loader)``).
        epochs: Number of epochs (give exactly one of ``epochs`` and ``steps``).
        steps: Number of steps.
        method: ewacct method (``None``: the core default).
        guarantee: ``"certified"`` (default) or ``"estimate"``.
        checker: The accountant whose ``get_epsilon`` the answer must satisfy
            (default ``EWAccountant(method=method, bound=guarantee)``; its
            history is overwritten).

    Returns:
        The noise multiplier.

    Raises:
        ValueError: bad input, or no noise multiplier the core searches meets the
            target (the message says what epsilon is achievable).
    """
    if (steps is None) == (epochs is None):
        raise ValueError(
            "get_noise_multiplier takes as input EITHER a number of steps or a number of epochs"
        )
    if steps is None:
        steps = int(float(epochs) / float(sample_rate))  # type: ignore[arg-type]
    guarantee = _check_bound(guarantee)
    if checker is None:  # (not ``checker or ...``: an accountant with no steps is falsy)
        checker = EWAccountant(method=method, bound=guarantee)
    sigma = None
    if guarantee == "certified":
        sigma = _core_certified_sigma(float(target_epsilon), float(target_delta), float(sample_rate), int(steps),
                                      method, checker)
    if sigma is None:
        with warnings.catch_warnings():
            # the core's remarks on estimates met along the search are not about the answer
            warnings.simplefilter("ignore", ewacct.EdgeworthValidityWarning)
            result = core_calibrate_noise()(
                target_epsilon=target_epsilon,
                target_delta=target_delta,
                sampling_probability=sample_rate,
                steps=int(steps),
                method=method,
                guarantee="estimate",
            )
        sigma = float(result.noise_multiplier)
    return _safe_side(sigma, float(target_epsilon), float(target_delta), float(sample_rate),
                      int(steps), checker)


def _core_certified_sigma(target: float, delta: float, q: float, steps: int, method: str | None,
                          checker: EWAccountant) -> float | None:
    """The core's certified calibration (``calibrate_noise(guarantee="certified")``) for the certified bound, with
    the certificate options ``checker`` queries with (its ``certify_time_budget``) and the target less
    :data:`SAFE_SIDE_MARGIN`: its answer meets the target by the very certificate the accountant reports for that
    history (memoised in the core), so :func:`_safe_side`'s first query is a look-up and it returns that sigma.
    Before, the exact sigma was raised by certified queries (1-6, each a certificate: 4.9 s where one certificate
    costs ~2 s, q 1.71e-5, T 198, delta 2.6e-9).  None where the core's certified search does not answer
    (CertificationError, or an older core without ``certify_options``): the estimate's sigma is raised instead."""
    cal = core_calibrate_noise()
    import inspect

    try:
        if "certify_options" not in inspect.signature(cal).parameters:
            return None
    except (TypeError, ValueError):
        return None
    try:
        with warnings.catch_warnings():
            warnings.simplefilter("ignore")
            r = cal(target_epsilon=target * (1.0 - SAFE_SIDE_MARGIN), target_delta=delta, sampling_probability=q,
                    steps=steps, method=method, guarantee="certified",
                    certify_options={"time_budget": float(checker.certify_time_budget)})
    except ValueError:  # (CertificationError is one) the estimate's path answers, raising its sigma as before
        return None
    s = float(r.noise_multiplier)
    return s if math.isfinite(s) and s > 0.0 else None


#: relative tolerance on sigma of the certified side's search in :func:`_safe_side`
SAFE_SIDE_RTOL = 1e-4
SAFE_SIDE_MARGIN = 1e-7
_SAFE_SIDE_MAX_QUERIES = 40


def _safe_side(sigma: float, target: float, delta: float, q: float, steps: int,
               check: EWAccountant) -> float:
    """Smallest sigma >= ``sigma`` (to :data:`SAFE_SIDE_RTOL`) whose epsilon as ``check`` reports it
    is <= ``target``.

    ``sigma`` meets the target by the estimate; the certified upper bound is at most a bracket width
    above it (or, where the core falls back to a looser certificate, further), so the first step up
    is sized by the excess (the epsilon of DP-SGD falls at least about as fast as 1/sigma) and grown
    4x while the target is missed.  The bracket [fails, meets] is then closed by regula falsi
    (Illinois) on log eps against log sigma, which is smooth and nearly linear there: it ends when
    the point that meets the target is within the tolerance of the interpolated root (or of the
    point that fails), usually after one or two more queries.
    """
    queries = 0

    def eps_at(s: float) -> float:
        nonlocal queries
        queries += 1
        check.history = [(s, q, steps)]
        return float(check.get_epsilon(delta))

    # the certified upper bound of one history can differ between query paths by its bracket width
    # (at most ~1e-8 relative for the contour enclosure): meet the target with that margin, so that
    # the epsilon later reported for the same history is <= target
    target = target * (1.0 - SAFE_SIDE_MARGIN)
    e = eps_at(sigma)
    if e <= target:
        return sigma
    lo, e_lo, bump = sigma, e, max(1e-9, 1.2 * (e - target) / target)
    while True:
        hi = lo * (1.0 + bump)
        e = eps_at(hi)
        if e <= target:
            break
        if queries >= _SAFE_SIDE_MAX_QUERIES or not math.isfinite(hi) or hi > 1e6 * sigma:
            raise ValueError(
                f"ewacct's calibration returned noise_multiplier={sigma:.6g}, but the accountant "
                f"reports epsilon {e:.6g} > {target:g} even at {hi:.6g}; please report this "
                "configuration"
            )
        lo, e_lo, bump = hi, e, 4.0 * bump
    e_hi = e
    lt = math.log(target)

    def g(ev: float) -> float:
        return math.log(ev) - lt if ev > 0.0 else -math.inf

    a, ga = math.log(lo), g(e_lo)   # fails: ga > 0
    b, gb = math.log(hi), g(e_hi)   # meets: gb <= 0
    wa, wb = ga, gb                 # Illinois weights of the proposals (the true values stay above)
    tol = math.log1p(SAFE_SIDE_RTOL)
    side = 0
    while b - a > tol and queries < _SAFE_SIDE_MAX_QUERIES:
        if math.isfinite(gb) and ga > gb and b - (b - a) * gb / (gb - ga) >= b - tol:
            break  # the root interpolated from the true values is within the tolerance below b
        if math.isfinite(wb) and wa > wb:
            x = b - wb * (b - a) / (wb - wa) + 0.5 * tol  # just above the root: the next point meets
            x = min(max(x, a + 0.05 * (b - a)), b - 0.05 * (b - a))
        else:
            x = 0.5 * (a + b)
        gx = g(eps_at(math.exp(x)))
        if gx <= 0.0:
            b, gb, wb = x, gx, gx
            if side == -1:
                wa *= 0.5
            side = -1
        else:
            a, ga, wa = x, gx, gx
            if side == 1:
                wb *= 0.5
            side = 1
    return math.exp(b)


# ---------------------------------------------- Opacus' get_noise_multiplier for "ew"
def _ew_class(name: str) -> type[EWAccountant] | None:
    """The registered class for ``name`` when it is an :class:`EWAccountant`, else None."""
    if not opacus_has_registry():
        return None
    from opacus.accountants import registry

    cls = registry._ACCOUNTANTS.get(name)  # noqa: SLF001 - read-only peek
    # a marker, not issubclass: a reloaded module has a new EWAccountant class object
    if isinstance(cls, type) and getattr(cls, "_EWACCT_ACCOUNTANT", False):
        return cls
    return None


def _opacus_get_noise_multiplier() -> Any:
    """Opacus' own ``get_noise_multiplier`` (never this module's wrapper)."""
    import opacus.accountants.utils as ou

    fn = ou.get_noise_multiplier
    return getattr(fn, "__wrapped_opacus__", fn)


def get_noise_multiplier(
    *,
    target_epsilon: float,
    target_delta: float,
    sample_rate: float,
    epochs: float | None = None,
    steps: int | None = None,
    accountant: str = "rdp",
    epsilon_tolerance: float = 0.01,
    **kwargs: Any,
) -> float:
    """Opacus' ``get_noise_multiplier``, answered by ewacct for the ``"ew"`` accountants.

    For an accountant name registered to an :class:`EWAccountant` class, the
    noise multiplier comes from :func:`calibrate_noise_multiplier` with that
    class's ``method`` and ``bound`` (``bound=`` in ``kwargs`` overrides the
    bound): a direct search with the core engine, certified by default, whose
    answer's epsilon as the accountant reports it is <= ``target_epsilon``
    (``epsilon_tolerance`` is not needed: the search is finer). Every other
    name goes to Opacus' function with the arguments unchanged.
    """
    cls = _ew_class(accountant)
    if cls is None:
        return _opacus_get_noise_multiplier()(
            target_epsilon=target_epsilon, target_delta=target_delta, sample_rate=sample_rate,
            epochs=epochs, steps=steps, accountant=accountant,
            epsilon_tolerance=epsilon_tolerance, **kwargs,
        )
    checker = cls()
    bound = kwargs.get("bound")
    guarantee = checker.bound if bound is None else _check_bound(bound)
    checker.bound = guarantee
    return calibrate_noise_multiplier(
        target_epsilon=target_epsilon, target_delta=target_delta, sample_rate=sample_rate,
        epochs=epochs, steps=steps, method=checker.method, guarantee=guarantee,
        checker=checker,
    )


def install_noise_calibration(enable: bool = True) -> None:
    """Route Opacus' ``get_noise_multiplier`` for the "ew" accountants to ewacct (idempotent).

    Replaces ``opacus.accountants.utils.get_noise_multiplier`` and the name
    ``opacus.privacy_engine.get_noise_multiplier`` (what
    ``make_private_with_epsilon`` calls) by :func:`get_noise_multiplier`,
    which hands every non-"ew" accountant to Opacus' own function unchanged.
    Done when this module is imported; ``enable=False`` puts Opacus' function
    back. Code that imported the function by name before ``ewacct_torch`` was
    imported keeps Opacus' original (which still works with "ew": a bisection
    over :meth:`EWAccountant.get_epsilon`).
    """
    import opacus.accountants.utils as ou

    original = _opacus_get_noise_multiplier()
    target = original
    if enable:

        @functools.wraps(original)
        def wrapper(**kwargs: Any) -> float:
            return get_noise_multiplier(**kwargs)

        wrapper.__wrapped_opacus__ = original  # type: ignore[attr-defined]
        wrapper.__doc__ = get_noise_multiplier.__doc__
        target = wrapper
    ou.get_noise_multiplier = target
    try:
        import opacus.privacy_engine as pe
    except ImportError:  # pragma: no cover - depends on the Opacus build
        return
    if hasattr(pe, "get_noise_multiplier"):
        pe.get_noise_multiplier = target


install_noise_calibration()

try:
    register()
except ValueError as _exc:  # another class already holds the name "ew"
    warnings.warn(
        f"ewacct_torch: not registering EWAccountant as 'ew' with Opacus: {_exc}",
        stacklevel=2,
    )
