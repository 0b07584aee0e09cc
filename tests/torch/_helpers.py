"""Builders for tiny, fast fine-tuning runs used by several test modules."""

from __future__ import annotations

import argparse
from typing import Any

import torch

from ewacct_torch import finetune as ft
from ewacct_torch.data import TextDataset
from ewacct_torch.model import tiny_bert_encoder

VOCAB = 64


def synthetic_tensors(n: int, *, seed: int, length: int = 12) -> tuple[torch.Tensor, ...]:
    """Token ids whose label is whether token 5 appears (learnable, tiny)."""
    g = torch.Generator().manual_seed(seed)
    ids = torch.randint(6, VOCAB, (n, length), generator=g)
    lengths = torch.randint(3, length + 1, (n,), generator=g)
    mask = (torch.arange(length).unsqueeze(0) < lengths.unsqueeze(1)).long()
    y = torch.randint(0, 2, (n,), generator=g)
    ids[:, 0] = torch.where(y == 1, torch.full_like(y, 5), ids[:, 0])
    ids = ids * mask
    return ids, mask, y


def tiny_args(extra: list[str] | None = None) -> argparse.Namespace:
    """Parsed fine-tune flags for a tiny run (no progress bar)."""
    parser = ft.add_arguments(argparse.ArgumentParser())
    base = ["--epsilon", "4", "--delta", "1e-3", "--batch-size", "16", "--epochs", "1",
            "--train", "full", "--lr", "1e-2", "--no-progress", "--physical-batch-size", "8",
            "--log-every", "1000"]
    args = parser.parse_args(base + (extra or []))
    return ft._fill_defaults(args)


def tiny_prepared(args: argparse.Namespace, *, n: int = 64, dist: Any = None) -> Any:
    """A prepared run over synthetic data and a tiny random BERT."""
    train = synthetic_tensors(n, seed=1)
    held = synthetic_tensors(32, seed=2)
    texts = TextDataset(tuple(str(i) for i in range(n)), tuple(int(v) for v in train[2]),
                        ("0", "1"), "synthetic")
    prep = ft._Prepared(args=args, train=texts, held_out=texts, model_path=None,
                        device=torch.device("cpu"), dist=dist or ft._Dist())
    prep.train_tensors = train
    prep.eval_tensors = held
    prep.extra["encoder_builder"] = lambda: tiny_bert_encoder(vocab_size=VOCAB, hidden_size=16,
                                                              layers=2, seed=0)
    return prep
