"""Version checks for the optional PyTorch stack."""

from __future__ import annotations

import re

#: Oldest Opacus whose IAccountant / make_private interface ewacct_torch uses.
MIN_OPACUS = (1, 4)


def _version_tuple(text: str) -> tuple[int, ...]:
    parts = re.findall(r"\d+", text.split("+")[0])[:3]
    return tuple(int(p) for p in parts)


def check_opacus() -> str:
    """Return the installed Opacus version, raising if it is unusable.

    Raises:
        ImportError: Opacus is missing or older than :data:`MIN_OPACUS`.
    """
    try:
        import opacus
    except ImportError as exc:  # pragma: no cover - depends on the environment
        raise ImportError(
            "ewacct_torch needs Opacus: pip install 'opacus==1.6.0' "
            "(or install ewacct with the [torch] extra)"
        ) from exc
    version = getattr(opacus, "__version__", "0")
    if _version_tuple(version) < MIN_OPACUS:
        raise ImportError(
            f"ewacct_torch needs Opacus >= {'.'.join(map(str, MIN_OPACUS))}, "
            f"found {version}; pip install 'opacus==1.6.0'"
        )
    return version
