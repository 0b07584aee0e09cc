"""Mean-pooled sentence classifiers on a BERT-style encoder, ready for Opacus."""

from __future__ import annotations

import warnings
from pathlib import Path
from typing import Any, Literal

import torch
from torch import nn

__all__ = [
    "LinearHead",
    "MeanPoolClassifier",
    "TRAIN_MODES",
    "build_classifier",
    "load_encoder",
    "mean_pool",
    "tiny_bert_encoder",
]

TrainMode = Literal["head", "last", "lora", "full"]
TRAIN_MODES: tuple[str, ...] = ("head", "last", "lora", "full")


def mean_pool(hidden: torch.Tensor, attention_mask: torch.Tensor) -> torch.Tensor:
    """Attention-masked mean over the sequence axis."""
    m = attention_mask.unsqueeze(-1).to(hidden.dtype)
    return (hidden * m).sum(dim=1) / m.sum(dim=1).clamp(min=1.0)


class MeanPoolClassifier(nn.Module):
    """Encoder, attention-masked mean pooling, dropout and a linear head.

    The forward pass passes explicit ``position_ids`` and ``token_type_ids``
    with a batch dimension, which Opacus needs for per-sample gradients of the
    embeddings (the model's own buffers have batch size 1 or are expanded).

    Args:
        encoder: A BERT-style encoder returning ``last_hidden_state``.
        hidden_size: Width of the encoder output.
        num_labels: Number of classes.
        dropout: Dropout before the head.
    """

    def __init__(
        self, encoder: nn.Module, *, hidden_size: int, num_labels: int, dropout: float = 0.1
    ) -> None:
        super().__init__()
        self.encoder = encoder
        self.dropout = nn.Dropout(dropout)
        self.head = nn.Linear(hidden_size, num_labels)

    def forward(self, input_ids: torch.Tensor, attention_mask: torch.Tensor) -> torch.Tensor:
        """Logits of shape ``(batch, num_labels)``."""
        b, length = input_ids.shape
        position_ids = torch.arange(length, device=input_ids.device).unsqueeze(0).repeat(b, 1)
        out = self.encoder(
            input_ids=input_ids,
            attention_mask=attention_mask,
            token_type_ids=torch.zeros_like(input_ids),
            position_ids=position_ids,
        )
        pooled = mean_pool(out.last_hidden_state, attention_mask)
        return self.head(self.dropout(pooled))


class LinearHead(nn.Module):
    """Linear classifier on precomputed (cached) sentence features."""

    def __init__(self, *, hidden_size: int, num_labels: int) -> None:
        super().__init__()
        self.head = nn.Linear(hidden_size, num_labels)

    def forward(self, features: torch.Tensor) -> torch.Tensor:
        """Logits of shape ``(batch, num_labels)``."""
        return self.head(features)


def load_encoder(path: str | Path) -> tuple[nn.Module, Any]:
    """Load an encoder and its tokenizer from a local folder (never the hub).

    Returns:
        ``(encoder, tokenizer)``; the encoder is in train mode.
    """
    from transformers import AutoModel, AutoTokenizer
    from transformers.utils import logging as hf_logging

    folder = Path(path)
    if not (folder / "config.json").is_file():
        raise FileNotFoundError(f"model folder {folder} has no config.json")
    tokenizer = AutoTokenizer.from_pretrained(str(folder), local_files_only=True)
    verbosity = hf_logging.get_verbosity()
    hf_logging.set_verbosity_error()
    try:
        encoder = AutoModel.from_pretrained(
            str(folder), local_files_only=True, add_pooling_layer=False
        )
    except TypeError:  # encoders without a pooler argument
        encoder = AutoModel.from_pretrained(str(folder), local_files_only=True)
    finally:
        hf_logging.set_verbosity(verbosity)
    encoder.float()  # weights may be stored in half precision; train in float32
    encoder.train()
    return encoder, tokenizer


def tiny_bert_encoder(
    *, vocab_size: int = 128, hidden_size: int = 16, layers: int = 2, seed: int = 0
) -> nn.Module:
    """A tiny randomly initialised BERT built from a config (for tests; no download)."""
    from transformers import BertConfig, BertModel

    torch.manual_seed(seed)
    config = BertConfig(
        vocab_size=vocab_size,
        hidden_size=hidden_size,
        num_hidden_layers=layers,
        num_attention_heads=2,
        intermediate_size=2 * hidden_size,
        max_position_embeddings=64,
        hidden_dropout_prob=0.0,
        attention_probs_dropout_prob=0.0,
    )
    enc = BertModel(config, add_pooling_layer=False)
    enc.train()
    return enc


def _encoder_layers(encoder: nn.Module) -> nn.ModuleList:
    base = encoder
    for attr in ("encoder", "layer"):
        if hasattr(base, attr):
            base = getattr(base, attr)
    if not isinstance(base, nn.ModuleList):
        raise ValueError("cannot find the encoder's transformer layers (encoder.layer)")
    return base


def build_classifier(
    encoder: nn.Module,
    *,
    num_labels: int,
    train: TrainMode = "lora",
    last_layers: int = 2,
    lora_r: int = 8,
    lora_alpha: int = 16,
    dropout: float = 0.1,
) -> MeanPoolClassifier:
    """Wrap an encoder in a :class:`MeanPoolClassifier` and choose what trains.

    Args:
        encoder: The encoder (e.g. from :func:`load_encoder`).
        num_labels: Number of classes.
        train: ``"head"`` (encoder frozen), ``"last"`` (last ``last_layers``
            transformer layers and the head), ``"lora"`` (PEFT LoRA on the
            attention query/value projections, plus the head) or ``"full"``.
        last_layers: How many final layers train when ``train="last"``.
        lora_r: LoRA rank.
        lora_alpha: LoRA scaling numerator.
        dropout: Dropout before the head.

    Returns:
        The classifier, in train mode.
    """
    if train not in TRAIN_MODES:
        raise ValueError(f"train must be one of {TRAIN_MODES}, got {train!r}")
    hidden = int(encoder.config.hidden_size)
    for p in encoder.parameters():
        p.requires_grad_(train == "full")
    if train == "last":
        layers = _encoder_layers(encoder)
        if not 1 <= last_layers <= len(layers):
            raise ValueError(f"last_layers must be in 1..{len(layers)}, got {last_layers}")
        for layer in layers[-last_layers:]:
            for p in layer.parameters():
                p.requires_grad_(True)
    elif train == "lora":
        from peft import LoraConfig, get_peft_model

        cfg = LoraConfig(
            r=lora_r, lora_alpha=lora_alpha, lora_dropout=0.0,
            target_modules=["query", "value"], bias="none",
        )
        with warnings.catch_warnings():
            warnings.filterwarnings("ignore", message=".*is_gradient_checkpointing.*")
            encoder = get_peft_model(encoder, cfg)
    model = MeanPoolClassifier(encoder, hidden_size=hidden, num_labels=num_labels, dropout=dropout)
    model.train()
    return model
