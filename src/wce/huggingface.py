"""Hugging Face Transformers: weighted cross-entropy for ``Trainer``, and class weights from ``datasets``.

Two ways to train a classifier with class weights:

- :class:`WeightedComputeLoss` is a ``compute_loss_func`` for
  ``Trainer(compute_loss_func=...)``. With ``reduction="mean_per_sample"``
  it divides ``Σ w·l`` by the Trainer's ``num_items_in_batch`` (the number of
  labelled items in the whole accumulated batch), so gradient accumulation
  gives the global value. The weighted mean ``Σ w·l / Σ w`` needs ``Σ w`` over
  the whole accumulated batch, which a ``compute_loss_func`` never sees: it is
  refused under gradient accumulation or multi-device averaging (TRAPS 9)
  instead of silently averaging per-micro-batch means.
- :class:`WeightedLossTrainer` overrides ``compute_loss`` and collects ``Σ w``
  over the accumulated micro-batches (and devices) before the step, so the
  weighted mean is the global one (TRAPS 9).

:func:`class_weights_from_dataset` counts a ``datasets.Dataset`` column in one
streaming pass with :class:`wce.weights.ClassCounts`.

Tested with transformers 5.24 and datasets 5.2 (``Trainer.loss_is_scaled_for_ga``).
"""

from __future__ import annotations

from typing import Any, Sequence

import numpy as np

from . import _validation as V
from ._optional import require
from .weights import ClassCounts, class_weights

torch = require("torch", purpose="wce.huggingface")
transformers = require("transformers", purpose="wce.huggingface")

from . import _array  # noqa: E402
from . import torch as wt  # noqa: E402  (after require: a clear error if torch is missing)
from .torch._ops import TorchOps  # noqa: E402

REDUCTIONS = ("mean", "mean_per_sample", "sum")
# Newer Trainers ask `loss_is_scaled_for_ga` whether compute_loss already normalised over the
# accumulated batch; older ones decide from other flags, in ways that changed between versions.
_TRAINER_KNOWS_SCALED_LOSS = hasattr(transformers.Trainer, "loss_is_scaled_for_ga")
IGNORE_INDEX = -100  # the label value Transformers models ignore


def class_weights_from_dataset(
    dataset: Any,
    column: str = "label",
    *,
    scheme: str = "balanced",
    normalize: str = "none",
    classes: Sequence | None = None,
    num_labels: int | None = None,
    batch_size: int = 10_000,
    ignore_index: int | None = IGNORE_INDEX,
    **kwargs: Any,
) -> np.ndarray:
    """Class weights from a ``datasets.Dataset`` (or ``IterableDataset``) column, in one pass.

    The column is read ``batch_size`` rows at a time (``dataset.iter``) into a
    :class:`~wce.weights.ClassCounts`, so memory stays bounded. The returned
    weights are indexed by label id, ready for the model's logits: the classes
    are the column's ``ClassLabel`` ids if it has that feature, else
    ``range(num_labels)``, else ``classes``, else the labels seen, which must
    then be the integers ``0..K-1``. Token-classification columns (a list of
    labels per row) are counted label by label, skipping ``ignore_index``
    (-100, the value Transformers ignores). A label outside the declared
    classes, a missing value (None) or a class never seen (TRAPS 4, unless
    ``zero_count=`` is passed) raises a ``ValueError``.

    Args:
      dataset: a ``datasets.Dataset`` or ``datasets.IterableDataset``.
      column: the label column.
      scheme, normalize, **kwargs: see :func:`wce.weights.class_weights`.
      classes: the class ids, in logit order.
      num_labels: shorthand for ``classes=range(num_labels)``.
      batch_size: rows per batch read.
      ignore_index: a label value to skip (default -100; None counts every value).

    Returns:
      float64 array of shape ``(K,)``.

    Example:
      >>> from datasets import Dataset
      >>> from wce.huggingface import class_weights_from_dataset
      >>> ds = Dataset.from_dict({"label": [0, 0, 0, 1]})
      >>> class_weights_from_dataset(ds).tolist()
      [0.6666666666666666, 2.0]
    """
    caller = "class_weights_from_dataset"
    if not hasattr(dataset, "iter"):
        hint = " Pass one split, e.g. dataset['train']." if hasattr(dataset, "keys") else ""
        raise TypeError(
            f"{caller} takes a datasets.Dataset or IterableDataset. Got {type(dataset).__name__}.{hint}"
        )
    batch_size = V.check_positive_int(batch_size, "batch_size", caller=caller)
    features = getattr(dataset, "features", None) or {}
    names = getattr(dataset, "column_names", None) or list(features)
    if names and column not in names:
        raise ValueError(f"Column {column!r} is not in the dataset; its columns are {list(names)}.")
    feature = features.get(column) if hasattr(features, "get") else None
    feature = getattr(feature, "feature", feature)  # List(ClassLabel) of token classification
    if classes is None and num_labels is not None:
        classes = range(V.check_positive_int(num_labels, "num_labels", caller=caller))
    if classes is None and hasattr(feature, "num_classes"):  # datasets.ClassLabel
        classes = range(feature.num_classes)
    if hasattr(dataset, "select_columns"):
        dataset = dataset.select_columns([column])
    counts = (ClassCounts(tuple(classes), declared=True, ignore_index=ignore_index)
              if classes is not None else None)
    for batch in dataset.iter(batch_size=batch_size):
        labels = _flat_labels(batch[column])
        # a list holding None becomes an object array, which ClassCounts rejects clearly
        if counts is None:
            counts = ClassCounts.from_labels(labels, ignore_index=ignore_index)
        else:
            counts.update(labels)
    if counts is None or counts.total == 0:
        raise ValueError(f"{caller}: column {column!r} holds no labels (empty dataset).")
    if classes is None and counts.classes != tuple(range(counts.n_classes)):
        raise ValueError(
            f"{caller}: the labels seen, {list(counts.classes)[:10]}, are not the ids 0..K-1 of the "
            "model's logits. Map them to ids first (e.g. ds.class_encode_column(column)), or pass "
            "num_labels= or classes= to say which ids exist."
        )
    return class_weights(counts, scheme=scheme, normalize=normalize, **kwargs)


def _flat_labels(values: Any) -> Any:
    """Rows of token labels (lists) -> one flat list; a missing row stays None (and is refused)."""
    if len(values) and any(isinstance(v, (list, tuple, np.ndarray)) for v in values):
        return [x for row in values for x in (row if isinstance(row, (list, tuple, np.ndarray)) else [row])]
    return values


def _logits_of(outputs: Any):
    if isinstance(outputs, dict) or hasattr(outputs, "keys"):
        return outputs["logits"]
    return outputs[0] if isinstance(outputs, (tuple, list)) else outputs


def _flat(logits, labels):
    """Sequence ``(B, K)`` or token ``(B, T, K)`` logits -> ``(n, K)`` rows for wce.torch."""
    return logits.reshape(-1, logits.shape[-1]), labels.reshape(-1)


def _criterion(class_weight: Any, label_smoothing: float, reduction: str):
    return wt.WeightedCrossEntropyLoss(class_weight, ignore_index=IGNORE_INDEX,
                                       label_smoothing=label_smoothing, reduction=reduction)


class WeightedComputeLoss:
    r"""A ``compute_loss_func`` for ``transformers.Trainer``: weighted cross-entropy of the logits.

    For logits ``z`` of shape ``(..., K)`` (sequence or token classification)
    and labels ``y`` (``-100`` = ignored), with ``l_i = -log softmax(z_i)[y_i]``
    (label smoothing as in :func:`wce.torch.weighted_cross_entropy`) and
    ``w_i = class_weight[y_i]``:

    - ``"mean"``: ``Σ w_i l_i / Σ w_i`` (PyTorch's weighted mean);
    - ``"mean_per_sample"``: ``Σ w_i l_i / n``, with ``n`` the Trainer's
      ``num_items_in_batch`` (labelled items over the accumulated batch and
      devices), else the labelled items of this batch;
    - ``"sum"``: ``Σ w_i l_i``.

    ``"mean"`` is refused when ``num_items_in_batch`` shows that the
    accumulated batch is larger than this one (gradient accumulation or
    averaging across devices): the global weighted mean needs ``Σ w`` of all
    micro-batches (TRAPS 9). Use :class:`WeightedLossTrainer` for it, or
    ``"mean_per_sample"``. All labels ignored gives 0 (TRAPS 7). The math is
    :mod:`wce.torch`'s (float32 for half-precision logits, TRAPS 11).

    Example:
      >>> import torch
      >>> from wce.huggingface import WeightedComputeLoss
      >>> loss_fn = WeightedComputeLoss([1.0, 3.0])
      >>> round(float(loss_fn({"logits": torch.zeros(2, 2)}, torch.tensor([0, 1]))), 4)
      0.6931

    Pass it as ``Trainer(..., compute_loss_func=WeightedComputeLoss(weights))``.
    """

    def __init__(self, class_weight: Any, *, reduction: str = "mean", label_smoothing: float = 0.0) -> None:
        self.reduction = V.check_one_of(reduction, "reduction", REDUCTIONS, caller="WeightedComputeLoss")
        self.criterion = _criterion(class_weight, label_smoothing, "sum")

    def __call__(self, outputs: Any, labels: Any, num_items_in_batch: Any = None):
        if labels is None:
            raise ValueError("WeightedComputeLoss needs labels; the batch has no 'labels' column.")
        logits, labels = _flat(_logits_of(outputs), labels)
        numerator = self.criterion(logits, labels)  # Σ w·l
        n_items = labels.ne(IGNORE_INDEX).sum()
        if self.reduction == "sum":
            return numerator
        if self.reduction == "mean_per_sample":
            n = n_items if num_items_in_batch is None else num_items_in_batch
            return _divide(numerator, n)
        if num_items_in_batch is not None and int(num_items_in_batch) != int(n_items):
            raise ValueError(
                "WeightedComputeLoss(reduction='mean') got a micro-batch of "
                f"{int(n_items)} labelled items out of an accumulated batch of {int(num_items_in_batch)} "
                "(gradient accumulation or several devices). Averaging per-micro-batch weighted means "
                "is not the global weighted mean (TRAPS 9). Use wce.huggingface.WeightedLossTrainer, "
                "which all-reduces Σ w, or reduction='mean_per_sample'."
            )
        return _divide(numerator, self.criterion.total_weight(labels))


def _divide(numerator, denominator):
    """Σ w·l / denominator by the shared rule: all items ignored gives 0 with zero gradient (TRAPS 7)."""
    den = torch.as_tensor(denominator).to(device=numerator.device, dtype=numerator.dtype)
    return _array.divide(TorchOps(numerator.device), numerator, den)


class WeightedLossTrainer(transformers.Trainer):
    """``Trainer`` whose loss is the weighted cross-entropy of the model's logits.

    ``WeightedLossTrainer(model, args, ..., class_weight=w, reduction="mean")``.
    The loss of an optimisation step is ``Σ w·l / Σ w`` over every micro-batch
    of the step (gradient accumulation) and every device: ``Σ w`` is collected
    (and all-reduced) before the step, and each micro-batch is
    :func:`wce.torch.weighted_cross_entropy` with ``reduction="global"`` and
    that denominator (TRAPS 9). ``reduction="mean_per_sample"`` divides by the
    number of labelled items instead. Evaluation uses each batch's own
    denominator.

    Gradient accumulation needs a Trainer that has ``loss_is_scaled_for_ga``
    (transformers 5.24 has it); with an older one the constructor refuses
    ``gradient_accumulation_steps > 1`` rather than scale the loss twice.

    Example:
      >>> import tempfile, torch
      >>> from transformers import TrainingArguments
      >>> from wce.huggingface import WeightedLossTrainer
      >>> class Tiny(torch.nn.Module):  # any model whose output has "logits"
      ...     def __init__(self):
      ...         super().__init__(); self.linear = torch.nn.Linear(2, 2)
      ...     def forward(self, x):
      ...         return {"logits": self.linear(x)}
      >>> model = Tiny().eval()
      >>> with torch.no_grad():
      ...     _ = model.linear.weight.copy_(torch.eye(2)); _ = model.linear.bias.zero_()
      >>> tmp = tempfile.TemporaryDirectory()
      >>> args = TrainingArguments(output_dir=tmp.name, use_cpu=True, report_to=[])
      >>> trainer = WeightedLossTrainer(model=model, args=args, class_weight=[1.0, 3.0])
      >>> batch = {"x": torch.tensor([[2.0, 0.0], [0.0, 1.0]]), "labels": torch.tensor([0, 1])}
      >>> round(trainer.compute_loss(model, batch).item(), 4)  # Σ w·l / Σ w of this batch
      0.2667
      >>> tmp.cleanup()

    ``trainer.train()`` then trains with the step's global weighted mean.
    """

    loss_is_scaled_for_ga = True  # each micro-batch is divided by the step's total

    def __init__(self, *args: Any, class_weight: Any, reduction: str = "mean",
                 label_smoothing: float = 0.0, **kwargs: Any) -> None:
        V.check_one_of(reduction, "reduction", ("mean", "mean_per_sample"), caller="WeightedLossTrainer")
        self.loss_reduction = reduction
        self.criterion = _criterion(class_weight, label_smoothing, reduction)
        self._item_counter = _criterion(None, 0.0, "sum")
        self._step_denominator = None
        super().__init__(*args, **kwargs)
        if not _TRAINER_KNOWS_SCALED_LOSS and self.args.gradient_accumulation_steps > 1:
            raise ValueError(
                f"WeightedLossTrainer needs a transformers Trainer with 'loss_is_scaled_for_ga' for "
                f"gradient accumulation (this is transformers {transformers.__version__}, whose "
                "Trainer would divide the already global loss by the accumulation steps again). "
                "Upgrade transformers, or use gradient_accumulation_steps=1."
            )

    def get_batch_samples(self, *args: Any, **kwargs: Any):
        batch_samples, num_items_in_batch = super().get_batch_samples(*args, **kwargs)
        if not all("labels" in batch for batch in batch_samples):
            self._step_denominator = None  # compute_loss explains what is missing
            return batch_samples, num_items_in_batch
        labels = [batch["labels"].reshape(-1) for batch in batch_samples]
        if self.loss_reduction == "mean":
            self._step_denominator = self.criterion.total_weight(labels)  # all-reduced Σ w
        else:  # unweighted: Σ 1 over labelled items, all-reduced
            self._step_denominator = self._item_counter.total_weight(labels)
        return batch_samples, num_items_in_batch

    def compute_loss(self, model: Any, inputs: dict, return_outputs: bool = False,
                     num_items_in_batch: Any = None):
        if "labels" not in inputs:
            raise ValueError(
                "WeightedLossTrainer needs the labels in a 'labels' column (the Trainer renames "
                f"'label' and 'label_ids' to it). The batch has {sorted(inputs)}."
            )
        labels = inputs.pop("labels")
        outputs = model(**inputs)
        logits, labels = _flat(_logits_of(outputs), labels)
        if model.training and self._step_denominator is not None:
            loss = wt.weighted_cross_entropy(
                logits, labels, class_weight=self.criterion.class_weight, ignore_index=IGNORE_INDEX,
                label_smoothing=self.criterion.label_smoothing, reduction="global",
                denominator=self._step_denominator)
        else:
            loss = self.criterion(logits, labels)
        return (loss, outputs) if return_outputs else loss


__all__ = ["WeightedComputeLoss", "WeightedLossTrainer", "class_weights_from_dataset"]
