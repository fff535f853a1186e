"""ClassCounts: class counts that stream, merge and come from any source."""

from __future__ import annotations

import json
from dataclasses import dataclass, field
from typing import Any, Iterable, Sequence

import numpy as np

KINDS = ("multiclass", "multilabel", "mask")


def _scalar(v: Any) -> Any:
    """numpy / pyarrow scalars -> plain Python values, so classes compare and serialise."""
    return v.item() if hasattr(v, "item") else v


def _label_type(v: Any) -> str:
    if isinstance(v, (bool, np.bool_)):
        return "bool"
    if isinstance(v, (int, np.integer)):
        return "int"
    if isinstance(v, str):
        return "str"
    if isinstance(v, (float, np.floating)):
        if float(v).is_integer():
            return "int"
        raise TypeError(
            f"Class labels must be integers, strings or booleans. Got the float {v!r}; "
            "labels such as 0.5 look like probabilities, not classes."
        )
    raise TypeError(f"Class labels must be integers, strings or booleans. Got {type(v).__name__} {v!r}.")


def _normalise_label(v: Any) -> Any:
    v = _scalar(v)
    if isinstance(v, float):
        _label_type(v)
        return int(v)
    return v


@dataclass
class ClassCounts:
    """How many times each class was seen, in an explicit, stable class order.

    ``counts[i]`` is the number of elements (samples, pixels or positive
    labels) of ``classes[i]``. ``n_rows`` counts the rows seen (samples, images,
    multi-label rows). For segmentation masks, ``pixels_in_present[i]`` is the
    number of pixels of the images that contain class i at all (needed for
    Eigen & Fergus' median-frequency balancing).

    Class order: the declared ``classes`` if given (then an undeclared label is
    an error), otherwise sorted at creation; classes first seen later are
    appended in sorted order. ``merge`` keeps the left operand's order and
    appends the right's new classes, which makes it associative; it is
    commutative as a mapping from class to count.

    Example:
      >>> from wce.weights import ClassCounts
      >>> c = ClassCounts.from_labels(["cat", "dog", "dog", "cat", "dog"])
      >>> c.as_dict()
      {'cat': 2, 'dog': 3}
      >>> c.update(["bird"]).as_dict()
      {'cat': 2, 'dog': 3, 'bird': 1}
    """

    classes: tuple = ()
    counts: np.ndarray = field(default_factory=lambda: np.zeros(0, dtype=np.int64))
    n_rows: int = 0
    kind: str = "multiclass"
    pixels_in_present: np.ndarray | None = None
    declared: bool = False
    ignore_index: Any = None

    def __post_init__(self) -> None:
        if self.kind not in KINDS:
            raise ValueError(
                f"The 'kind' parameter of ClassCounts must be one of {KINDS}. Got {self.kind!r} instead."
            )
        self.classes = tuple(_normalise_label(c) for c in self.classes)
        if len(set(self.classes)) != len(self.classes):
            raise ValueError(f"The classes of ClassCounts must be unique. Got {list(self.classes)}.")
        self._check_types(self.classes)
        self.counts = np.asarray(self.counts, dtype=np.int64).reshape(-1)
        if self.counts.size == 0 and self.classes:
            self.counts = np.zeros(len(self.classes), dtype=np.int64)
        if self.counts.shape != (len(self.classes),):
            raise ValueError("ClassCounts needs one count per class.")
        if self.kind == "mask" and self.pixels_in_present is None:
            self.pixels_in_present = np.zeros(len(self.classes), dtype=np.int64)
        if self.pixels_in_present is not None:
            self.pixels_in_present = np.asarray(self.pixels_in_present, dtype=np.int64)
        self._index = {c: i for i, c in enumerate(self.classes)}

    # ------------------------------------------------------------------ basics
    @property
    def n_classes(self) -> int:
        return len(self.classes)

    @property
    def total(self) -> int:
        return int(self.counts.sum())

    @property
    def frequencies(self) -> np.ndarray:
        total = self.total
        return self.counts / total if total else np.zeros(len(self.counts))

    def as_dict(self) -> dict:
        return {c: int(n) for c, n in zip(self.classes, self.counts)}

    def __eq__(self, other: object) -> bool:
        if not isinstance(other, ClassCounts):
            return NotImplemented
        pa = None if self.pixels_in_present is None else dict(zip(self.classes, self.pixels_in_present.tolist()))
        pb = None if other.pixels_in_present is None else dict(zip(other.classes, other.pixels_in_present.tolist()))
        return (
            self.as_dict() == other.as_dict()
            and self.n_rows == other.n_rows
            and self.kind == other.kind
            and pa == pb
        )

    def __repr__(self) -> str:
        return f"ClassCounts({self.as_dict()}, n_rows={self.n_rows}, kind={self.kind!r})"

    def to_json(self) -> str:
        return json.dumps(
            {"classes": list(self.classes), "counts": self.counts.tolist(), "n_rows": self.n_rows,
             "kind": self.kind,
             "pixels_in_present": None if self.pixels_in_present is None else self.pixels_in_present.tolist(),
             "declared": self.declared, "ignore_index": _scalar(self.ignore_index)}
        )

    @classmethod
    def from_json(cls, text: str) -> "ClassCounts":
        d = json.loads(text)
        # declared / ignore_index keep their meaning after a round trip (older JSON lacks them)
        return cls(tuple(d["classes"]), np.asarray(d["counts"]), d["n_rows"], d["kind"],
                   None if d["pixels_in_present"] is None else np.asarray(d["pixels_in_present"]),
                   declared=bool(d.get("declared", False)), ignore_index=d.get("ignore_index"))

    # ------------------------------------------------------------- internals
    def _check_types(self, labels: Iterable) -> None:
        kinds = {_label_type(c) for c in labels}
        if self.classes:
            kinds.add(_label_type(self.classes[0]))
        if len(kinds) > 1:
            raise TypeError(
                f"Class labels mix types ({', '.join(sorted(kinds))}). Convert them to one type "
                "first, e.g. labels.astype(str)."
            )

    def _grow(self, new: Sequence, *, sort: bool = True) -> None:
        if not new:
            return
        if self.declared:
            shown = list(new)[:5]
            raise ValueError(
                f"Labels {shown} are not among the declared classes {list(self.classes)}. "
                "Declare every class up front, or pass ignore_index for a void label."
            )
        self._check_types(new)
        try:
            new = sorted(new) if sort else list(new)
        except TypeError:
            new = list(new)
        self.classes = self.classes + tuple(new)
        self._index = {c: i for i, c in enumerate(self.classes)}
        pad = np.zeros(len(new), dtype=np.int64)
        self.counts = np.concatenate([self.counts, pad])
        if self.pixels_in_present is not None:
            self.pixels_in_present = np.concatenate([self.pixels_in_present, pad])

    def _add(self, values: Sequence, counts: Sequence, pixels: Sequence | None = None,
             *, sort: bool = True) -> None:
        values = [_normalise_label(v) for v in values]
        if values and self.classes:  # True == 1 as a dict key: check types, not just membership
            self._check_types(values)
        self._grow([v for v in dict.fromkeys(values) if v not in self._index], sort=sort)
        idx = np.fromiter((self._index[v] for v in values), dtype=np.int64, count=len(values))
        np.add.at(self.counts, idx, np.asarray(counts, dtype=np.int64))
        if pixels is not None:
            np.add.at(self.pixels_in_present, idx, np.asarray(pixels, dtype=np.int64))

    # -------------------------------------------------------------- building
    @classmethod
    def from_labels(
        cls,
        labels: Any,
        *,
        classes: Sequence | None = None,
        kind: str = "auto",
        ignore_index: Any = None,
    ) -> "ClassCounts":
        """Count ``labels``: 1-D class labels (ints, strings, bools), k-hot
        multi-label rows ``(N, K)`` with ``kind="multilabel"``, or segmentation
        masks ``(N, H, W, ...)`` (``kind="mask"``, or ``"auto"`` for 3-D and more).

        ``classes`` declares the class order (and classes that may be absent).
        ``ignore_index`` is a label value that is not counted (e.g. 255 in masks).
        """
        arr = _to_numpy(labels)
        if kind == "auto":
            if arr.ndim == 1 or (arr.ndim == 2 and arr.shape[1] == 1):
                kind = "multiclass"
            elif arr.ndim >= 3:
                kind = "mask"
            else:
                raise ValueError(
                    f"Labels of shape {arr.shape} are ambiguous: pass kind='multilabel' for k-hot "
                    "rows (N, K) or kind='mask' for segmentation masks (N, H, W)."
                )
        if kind == "multilabel" and classes is None:
            classes = tuple(range(arr.shape[1])) if arr.ndim == 2 else None
        out = cls(
            tuple(classes) if classes is not None else (),
            kind=kind,
            declared=classes is not None,
            ignore_index=ignore_index,
        )
        return out.update(arr)

    def update(self, batch: Any) -> "ClassCounts":
        """Add a batch of labels (same layout as ``from_labels``); returns self."""
        arr = _to_numpy(batch)
        if self.kind == "multilabel":
            self._update_multilabel(arr)
            return self
        if self.kind == "multiclass":
            arr = arr.reshape(-1) if arr.ndim == 2 and arr.shape[1] == 1 else arr
            if arr.ndim != 1:
                raise ValueError(
                    f"A multiclass ClassCounts takes 1-D labels; got shape {arr.shape}. "
                    "Use kind='mask' for segmentation masks or kind='multilabel' for k-hot rows."
                )
            rows = arr.shape[0]
            flat = arr
        else:
            if arr.ndim < 2:
                raise ValueError(f"Segmentation masks must be (N, H, W, ...); got shape {arr.shape}.")
            rows = arr.shape[0]
            flat = arr.reshape(rows, -1)
        if flat.dtype == object:
            values = flat.reshape(-1).tolist()
            if any(_is_missing(v) for v in values):
                raise ValueError(
                    "Labels contain missing values (None/NaN). Drop or impute them before counting."
                )
            self._check_types(values)  # before sorting: mixed types would not sort
        elif np.issubdtype(flat.dtype, np.floating) and np.isnan(flat).any():
            raise ValueError("Labels contain NaN. Drop or impute them before counting.")
        if self.kind == "mask":
            for image in flat:
                values, counts = _value_counts(image, self.ignore_index)
                self._add(values, counts, pixels=np.full(len(values), int(counts.sum())))
        else:
            values, counts = _value_counts(flat, self.ignore_index)
            self._add(values, counts)
        self.n_rows += rows
        return self

    def _update_multilabel(self, arr: np.ndarray) -> None:
        if arr.ndim != 2:
            raise ValueError(f"Multi-label targets must be k-hot rows (N, K); got shape {arr.shape}.")
        if not self.classes:
            self._grow(list(range(arr.shape[1])))
        if arr.shape[1] != self.n_classes:
            raise ValueError(
                f"Multi-label rows have {arr.shape[1]} columns but {self.n_classes} classes were "
                "declared."
            )
        if not np.all((arr == 0) | (arr == 1)):
            raise ValueError("Multi-label targets must be k-hot: every entry 0 or 1.")
        self.counts = self.counts + arr.sum(axis=0).astype(np.int64)
        self.n_rows += arr.shape[0]

    def merge(self, other: "ClassCounts") -> "ClassCounts":
        """A new ClassCounts holding both (e.g. counts from two shards or workers)."""
        if not isinstance(other, ClassCounts):
            raise TypeError(f"merge takes a ClassCounts. Got {type(other).__name__}.")
        if self.kind != other.kind:
            raise ValueError(f"Cannot merge {self.kind} counts with {other.kind} counts.")
        out = ClassCounts(self.classes, self.counts.copy(), self.n_rows, self.kind,
                          None if self.pixels_in_present is None else self.pixels_in_present.copy(),
                          ignore_index=self.ignore_index)
        # the right operand's new classes keep its order (an ordered union), so that
        # (a + b) + c and a + (b + c) have the same classes in the same order
        out._add(list(other.classes), other.counts, other.pixels_in_present, sort=False)
        out.n_rows += other.n_rows
        out.declared = self.declared and other.declared and set(self.classes) == set(other.classes)
        return out

    __add__ = merge

    # ------------------------------------------------------------ readers
    @classmethod
    def from_parquet(cls, path, target: str, **kwargs) -> "ClassCounts":
        """Count a Parquet column in record batches (bounded memory); see :mod:`wce.weights._readers`."""
        from ._readers import count_parquet

        return count_parquet(path, target, **kwargs)

    @classmethod
    def from_csv(cls, path, target: str, **kwargs) -> "ClassCounts":
        """Count a CSV column in blocks through pyarrow's streaming reader."""
        from ._readers import count_csv

        return count_csv(path, target, **kwargs)

    @classmethod
    def from_dataframe(cls, df, target, **kwargs) -> "ClassCounts":
        """Count a pandas or polars column (``target`` a name), or k-hot columns (a list of names)."""
        from ._readers import count_dataframe

        return count_dataframe(df, target, **kwargs)

    @classmethod
    def from_dataloader(cls, loader, *, target: Any = None, progress: bool = True, **kwargs) -> "ClassCounts":
        """Count labels from any iterable of batches (a PyTorch DataLoader, a generator...)."""
        from ._readers import count_batches

        return count_batches(loader, target=target, progress=progress, **kwargs)


def _is_missing(v: Any) -> bool:
    return v is None or (isinstance(v, (float, np.floating)) and np.isnan(v)) or \
        type(v).__name__ in ("NAType", "NaTType")


def _check_list_types(batch: Sequence) -> None:
    """NumPy would silently turn ["a", 1] into strings and [True, 2] into ints: refuse them."""
    if not batch or any(isinstance(v, (list, tuple, np.ndarray)) for v in batch):
        return
    kinds = {_label_type(_scalar(v)) for v in batch if not _is_missing(v)}
    if len(kinds) > 1:
        raise TypeError(
            f"Class labels mix types ({', '.join(sorted(kinds))}). Convert them to one type "
            "first, e.g. labels.astype(str)."
        )


def _to_numpy(batch: Any) -> np.ndarray:
    if isinstance(batch, (list, tuple)):
        _check_list_types(batch)
    if hasattr(batch, "detach"):  # torch tensor, without importing torch
        batch = batch.detach().cpu().numpy()
    elif hasattr(batch, "to_numpy"):  # pandas / polars / pyarrow
        batch = batch.to_numpy()
    arr = np.asarray(batch)
    if arr.size == 0 and arr.ndim <= 1:
        return arr.reshape(0)
    return arr


def _value_counts(flat: np.ndarray, ignore_index: Any) -> tuple[list, np.ndarray]:
    flat = flat.reshape(-1)
    if ignore_index is not None:
        flat = flat[flat != ignore_index]
    if flat.size == 0:
        return [], np.zeros(0, dtype=np.int64)
    if np.issubdtype(flat.dtype, np.integer) and flat.min() >= 0 and flat.max() < 1 << 20:
        counts = np.bincount(flat)
        values = np.nonzero(counts)[0]
        return values.tolist(), counts[values]
    values, counts = np.unique(flat, return_counts=True)
    return values.tolist(), counts
