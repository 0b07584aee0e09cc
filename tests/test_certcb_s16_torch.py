"""ewacct_torch's certified calibration (session 16, H-CB): ``calibrate_noise_multiplier`` (what Opacus'
``make_private_with_epsilon`` / ``get_noise_multiplier`` reach for "ew") asks the core's certified calibration with
the accountant's certificate budget, so that the accountant's own query at the returned sigma is the certificate the
calibration checked.  Checked against independent upper bounds: dp_accounting's pessimistic (connect-the-dots) PLD
epsilon at the returned sigma is <= the target, and the certified epsilon is <= Opacus' RDP epsilon of the same
history (RDP is an upper bound; the certified upper end is the tighter proof)."""

from __future__ import annotations

import math
import warnings

import pytest

pytest.importorskip("torch")
pytest.importorskip("opacus")

from ewacct import Accountant, PoissonSubsampledGaussian  # noqa: E402
from ewacct.bounds import certify  # noqa: E402
from ewacct.methods.certified import clear_caches  # noqa: E402
from test_certcb_s16_calib import pld_pessimistic_eps  # noqa: E402  (dp_accounting, connect-the-dots)

# (target eps, delta, q, steps): the Opacus mnist-like pattern (the few-participation corner, where the accountant's
# certificate takes 1-3 s, is timed by benchmarks/certcb_s16_torch_corners.py instead: CI time)
POINTS = [(3.0, 1e-5, 0.01, 300), (2.0, 1e-5, 0.125, 16)]


@pytest.mark.parametrize("point", POINTS)
def test_certified_calibration_meets_the_target_by_the_accountants_own_certificate(point):
    from opacus.accountants import RDPAccountant

    import ewacct_torch
    from ewacct_torch import EWAccountant

    e, d, q, T = point
    clear_caches()
    certify.clear_memo()
    checker = EWAccountant()
    with warnings.catch_warnings():
        warnings.simplefilter("ignore")
        s = ewacct_torch.calibrate_noise_multiplier(target_epsilon=e, target_delta=d, sample_rate=q, steps=T,
                                                   checker=checker)
    assert math.isfinite(s) and s > 0.0
    # the accountant's certificate at s (its budget) is the memoised one the calibration checked
    acc = Accountant().compose(PoissonSubsampledGaussian(s, q), T)
    key = certify._memo_key(acc, "epsilon", d, float(EWAccountant.certify_time_budget))
    assert key in certify._MEMO
    fresh = EWAccountant()
    fresh.history = [(s, q, T)]
    eps = fresh.get_epsilon(d)
    assert eps <= e
    rdp = RDPAccountant()
    rdp.history = [(s, q, T)]
    assert eps <= rdp.get_epsilon(delta=d)
    assert pld_pessimistic_eps(s, q, T, d) <= e
