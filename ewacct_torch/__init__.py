"""PyTorch / Opacus integration of ewacct.

Importing this package registers :class:`EWAccountant` with Opacus' accountant
registry under the name ``"ew"`` (Opacus >= 1.6), so that
``opacus.PrivacyEngine(accountant="ew")`` works.
"""

from __future__ import annotations

from ewacct_torch._compat import check_opacus
from ewacct_torch.accountant import (
    STATE_VERSION,
    CertificationUnavailableWarning,
    EWAccountant,
    attach_accountant,
    calibrate_noise_multiplier,
    get_noise_multiplier,
    install_noise_calibration,
    load_kernels,
    make_accountant_class,
    merge_history,
    opacus_has_registry,
    register,
)

__all__ = [
    "STATE_VERSION",
    "CertificationUnavailableWarning",
    "EWAccountant",
    "attach_accountant",
    "calibrate_noise_multiplier",
    "check_opacus",
    "get_noise_multiplier",
    "install_noise_calibration",
    "load_kernels",
    "make_accountant_class",
    "merge_history",
    "opacus_has_registry",
    "register",
]
