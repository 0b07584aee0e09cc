"""state_dict round trips, rejects corrupted/foreign states; dp_accounting DpEvents are accepted."""

import json
import warnings

import pytest

from ewacct import Accountant, Gaussian, Laplace, PoissonSubsampledGaussian


def test_state_roundtrip_json():
    a = Accountant(method="edgeworth", order=3).compose(PoissonSubsampledGaussian(1.0, 0.05), 100).compose(Gaussian(3.0), 2)
    sd = json.loads(json.dumps(a.state_dict()))
    b = Accountant().load_state_dict(sd)
    assert b.method == "edgeworth" and b.order == 3
    assert b.ledger == a.ledger
    with warnings.catch_warnings():
        warnings.simplefilter("ignore")
        assert float(a.get_epsilon(1e-5)) == float(b.get_epsilon(1e-5))


@pytest.mark.parametrize("mutate", [
    lambda s: s.update(kind="opacus"),
    lambda s: s.update(version=99),
    lambda s: s.pop("ledger"),
    lambda s: s["ledger"][0]["mechanism"].update(type="nope"),
    lambda s: s["ledger"][0]["mechanism"].update(noise_multiplier=-1),
    lambda s: s["ledger"][0].update(count=-5),
    lambda s: s["settings"].update(method="nope"),
])
def test_state_rejects_bad(mutate):
    sd = Accountant().compose(PoissonSubsampledGaussian(1.0, 0.05), 10).state_dict()
    mutate(sd)
    with pytest.raises(ValueError):
        Accountant().load_state_dict(sd)


def test_dp_accounting_events():
    dpa = pytest.importorskip("dp_accounting")
    ev = dpa.SelfComposedDpEvent(dpa.PoissonSampledDpEvent(0.05, dpa.GaussianDpEvent(1.0)), 200)
    mixed = dpa.ComposedDpEvent([ev, dpa.GaussianDpEvent(4.0), dpa.LaplaceDpEvent(10.0)])
    a = Accountant(fallback=False).compose(mixed)
    b = (Accountant(fallback=False).compose(PoissonSubsampledGaussian(1.0, 0.05), 200)
         .compose(Gaussian(4.0)).compose(Laplace(10.0)))
    with warnings.catch_warnings():
        warnings.simplefilter("ignore")
        assert float(a.get_epsilon(1e-5)) == float(b.get_epsilon(1e-5))
    with pytest.raises(ValueError, match="unsupported"):
        Accountant().compose(dpa.PoissonSampledDpEvent(0.1, dpa.LaplaceDpEvent(1.0)))
