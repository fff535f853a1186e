"""wce.huggingface: Trainer losses checked by value against the NumPy reference, and class weights from datasets.

A tiny randomly initialised BERT built from a config trains a few steps on CPU:
nothing is downloaded.
"""

import numpy as np
import pytest

torch = pytest.importorskip("torch")
pytest.importorskip("transformers")
pytest.importorskip("accelerate")  # Trainer needs it
datasets = pytest.importorskip("datasets")

from transformers import (BertConfig, BertForSequenceClassification,  # noqa: E402
                          BertForTokenClassification, Trainer, TrainingArguments)

from wce.huggingface import (WeightedComputeLoss, WeightedLossTrainer,  # noqa: E402
                             class_weights_from_dataset)
from wce.losses import weighted_cross_entropy  # noqa: E402
from wce.weights import class_weights  # noqa: E402

N, SEQ, K = 48, 8, 3


@pytest.fixture(scope="module")
def dataset():
    rng = np.random.default_rng(0)
    labels = rng.choice(K, size=N, p=[0.7, 0.2, 0.1])
    ds = datasets.Dataset.from_dict({"input_ids": rng.integers(1, 100, size=(N, SEQ)).tolist(),
                                     "label": labels.tolist()})
    return ds.cast_column("label", datasets.ClassLabel(num_classes=K)), labels


def tiny_bert(cls=BertForSequenceClassification, num_labels=K):
    torch.manual_seed(0)
    config = BertConfig(vocab_size=100, hidden_size=16, num_hidden_layers=1, num_attention_heads=2,
                        intermediate_size=32, num_labels=num_labels,
                        hidden_dropout_prob=0.0, attention_probs_dropout_prob=0.0,
                        initializer_range=0.5)  # confident logits, so classes have different losses
    return cls(config)


def training_args(tmp_path, **kwargs):
    base = dict(output_dir=str(tmp_path / "out"), per_device_train_batch_size=8, max_steps=3,
                report_to=[], use_cpu=True, logging_steps=1, save_strategy="no", disable_tqdm=True,
                learning_rate=1e-3, seed=0)
    return TrainingArguments(**{**base, **kwargs})


def logged_losses(trainer):
    return [h["loss"] for h in trainer.state.log_history if "loss" in h]


# ------------------------------------------------------------------ class weights from datasets
@pytest.mark.parametrize("batch_size", [1, 7, 10_000])
def test_class_weights_from_dataset_equal_counting_the_column(dataset, batch_size):
    ds, labels = dataset
    for scheme in ("balanced", "effective_number"):
        np.testing.assert_allclose(class_weights_from_dataset(ds, scheme=scheme, batch_size=batch_size),
                                   class_weights(labels, scheme=scheme), rtol=1e-12)


def test_class_weights_from_iterable_dataset_and_plain_int_column(dataset):
    ds, labels = dataset
    np.testing.assert_allclose(class_weights_from_dataset(ds.to_iterable_dataset(), batch_size=5),
                               class_weights(labels), rtol=1e-12)
    plain = datasets.Dataset.from_dict({"y": labels.tolist()})
    np.testing.assert_allclose(class_weights_from_dataset(plain, column="y", normalize="mean_one"),
                               class_weights(labels, normalize="mean_one"), rtol=1e-12)


def test_class_weights_from_token_classification_column_skips_ignored_labels():
    rows = [[-100, 0, 0, 1, -100], [-100, 2, 0, -100], [-100, 0, 1, 1, 0, -100]]
    ds = datasets.Dataset.from_dict({"labels": rows}).cast_column(
        "labels", datasets.List(datasets.ClassLabel(num_classes=4)) if hasattr(datasets, "List")
        else datasets.Sequence(datasets.ClassLabel(num_classes=4)))
    flat = np.array([x for row in rows for x in row if x != -100])
    np.testing.assert_allclose(
        class_weights_from_dataset(ds, column="labels", batch_size=2, zero_count="zero"),
        class_weights(flat, classes=(0, 1, 2, 3), zero_count="zero"), rtol=1e-12)
    with pytest.raises(ValueError, match="missing values"):
        class_weights_from_dataset(datasets.Dataset.from_dict({"labels": [[0, 1], [None, 1]]}),
                                   column="labels", num_labels=2)


def test_class_weights_from_dataset_bad_input(dataset):
    ds, _ = dataset
    with pytest.raises(ValueError, match="missing values"):
        class_weights_from_dataset(datasets.Dataset.from_dict({"label": [0, 1, None, 1]}), batch_size=2)
    with pytest.raises(ValueError, match=r"Labels \[5\] are not among the declared classes \[0, 1, 2\]"):
        class_weights_from_dataset(datasets.Dataset.from_dict({"label": [0, 1, 2, 5]}), num_labels=3)
    with pytest.raises(ValueError, match="not the ids 0..K-1"):
        class_weights_from_dataset(datasets.Dataset.from_dict({"label": ["neg", "pos", "neg"]}))
    with pytest.raises(ValueError, match="not the ids 0..K-1"):
        class_weights_from_dataset(datasets.Dataset.from_dict({"label": [0, 2, 2]}))
    with pytest.raises(ValueError, match=r"Column 'labels' is not in the dataset; its columns are \['input_ids', 'label'\]"):
        class_weights_from_dataset(ds, column="labels")
    with pytest.raises(TypeError, match=r"Pass one split, e.g. dataset\['train'\]"):
        class_weights_from_dataset(datasets.DatasetDict({"train": ds}))


def test_trap4_class_label_never_seen_raises_unless_policy(dataset):
    """TRAPS 4: a ClassLabel class with no example divides by zero; refused unless zero_count is chosen."""
    ds = datasets.Dataset.from_dict({"label": [0, 0, 1]}).cast_column("label", datasets.ClassLabel(num_classes=3))
    with pytest.raises(ValueError, match="zero count"):
        class_weights_from_dataset(ds)
    np.testing.assert_allclose(class_weights_from_dataset(ds, zero_count="zero"),
                               class_weights([0, 0, 1], classes=(0, 1, 2), zero_count="zero"), rtol=1e-12)


# ------------------------------------------------------------------ compute_loss_func
def test_compute_loss_func_trains_with_the_weighted_cross_entropy(dataset, tmp_path):
    ds, labels = dataset
    weights = class_weights_from_dataset(ds)
    loss_fn = WeightedComputeLoss(weights)
    seen = []

    def recording(outputs, labels, num_items_in_batch=None):
        loss = loss_fn(outputs, labels, num_items_in_batch)
        seen.append((outputs["logits"].detach().double().numpy(), labels.numpy(), loss.detach().item()))
        return loss

    trainer = Trainer(model=tiny_bert(), args=training_args(tmp_path), train_dataset=ds,
                      compute_loss_func=recording)
    trainer.train()
    assert len(seen) == 3
    for logits, y, value in seen:
        expected = weighted_cross_entropy(logits, y, class_weight=weights, reduction="mean")
        np.testing.assert_allclose(value, expected, rtol=1e-6)
    # the weights matter here: plain cross-entropy gives other values
    assert not np.allclose([weighted_cross_entropy(z, y) for z, y, _ in seen], [v for _, _, v in seen], rtol=1e-4)
    # the loss the Trainer optimised and logged is that value
    np.testing.assert_allclose(logged_losses(trainer), [v for _, _, v in seen], rtol=1e-6)


def test_trap9_compute_loss_func_mean_refuses_gradient_accumulation(dataset, tmp_path):
    """TRAPS 9: a compute_loss_func cannot see Σw of other micro-batches; 'mean' refuses instead of averaging means."""
    ds, _ = dataset
    trainer = Trainer(model=tiny_bert(), args=training_args(tmp_path, per_device_train_batch_size=4,
                                                            gradient_accumulation_steps=2),
                      train_dataset=ds, compute_loss_func=WeightedComputeLoss([1.0, 2.0, 4.0]))
    with pytest.raises(ValueError, match=r"TRAPS 9.*WeightedLossTrainer"):
        trainer.train()


def test_trap9_compute_loss_func_mean_per_sample_is_global_under_accumulation(dataset, tmp_path):
    """TRAPS 9: mean_per_sample divides by the Trainer's num_items_in_batch, so the step loss is global."""
    ds, _ = dataset
    weights = np.array([0.5, 2.0, 4.0])
    loss_fn = WeightedComputeLoss(weights, reduction="mean_per_sample")
    seen = []

    def recording(outputs, labels, num_items_in_batch=None):
        seen.append((outputs["logits"].detach().double().numpy(), labels.numpy()))
        return loss_fn(outputs, labels, num_items_in_batch)

    trainer = Trainer(model=tiny_bert(), args=training_args(tmp_path, per_device_train_batch_size=4,
                                                            gradient_accumulation_steps=2, max_steps=2),
                      train_dataset=ds, compute_loss_func=recording)
    trainer.train()
    expected = [
        weighted_cross_entropy(np.concatenate([seen[2 * s][0], seen[2 * s + 1][0]]),
                               np.concatenate([seen[2 * s][1], seen[2 * s + 1][1]]),
                               class_weight=weights, reduction="mean_per_sample")
        for s in range(2)
    ]
    np.testing.assert_allclose(logged_losses(trainer), expected, rtol=1e-5)


# ------------------------------------------------------------------ WeightedLossTrainer
class RecordingTrainer(WeightedLossTrainer):
    def compute_loss(self, model, inputs, return_outputs=False, num_items_in_batch=None):
        labels = inputs["labels"].numpy().copy()
        loss, outputs = super().compute_loss(model, inputs, return_outputs=True,
                                             num_items_in_batch=num_items_in_batch)
        self.seen.append((outputs["logits"].detach().double().numpy(), labels))
        return (loss, outputs) if return_outputs else loss


def test_trap9_weighted_loss_trainer_global_weighted_mean_under_accumulation(dataset, tmp_path):
    """TRAPS 9: with gradient accumulation the step loss is Σw·l/Σw over all micro-batches, not a mean of means."""
    ds, _ = dataset
    weights = class_weights_from_dataset(ds)
    trainer = RecordingTrainer(model=tiny_bert(), class_weight=weights, train_dataset=ds,
                               args=training_args(tmp_path, per_device_train_batch_size=4,
                                                  gradient_accumulation_steps=3, max_steps=2))
    trainer.seen = []
    trainer.train()
    assert len(trainer.seen) == 6
    expected, mean_of_means = [], []
    for step in range(2):
        micro = trainer.seen[3 * step: 3 * step + 3]
        logits = np.concatenate([z for z, _ in micro])
        y = np.concatenate([t for _, t in micro])
        expected.append(weighted_cross_entropy(logits, y, class_weight=weights))
        mean_of_means.append(np.mean([weighted_cross_entropy(z, t, class_weight=weights) for z, t in micro]))
    np.testing.assert_allclose(logged_losses(trainer), expected, rtol=1e-5)
    assert not np.allclose(expected, mean_of_means, rtol=1e-3)  # the naive answer is distinguishable


def test_weighted_loss_trainer_evaluation_uses_batch_weighted_mean(dataset, tmp_path):
    ds, labels = dataset
    weights = np.array([1.0, 3.0, 5.0])
    trainer = WeightedLossTrainer(model=tiny_bert(), class_weight=weights, eval_dataset=ds,
                                  args=training_args(tmp_path, per_device_eval_batch_size=N))
    metrics = trainer.evaluate()
    logits = trainer.predict(ds).predictions
    np.testing.assert_allclose(metrics["eval_loss"],
                               weighted_cross_entropy(logits.astype(np.float64), labels, class_weight=weights),
                               rtol=1e-5)


# ------------------------------------------------------------------ the loss function itself
def test_token_classification_shapes_and_ignored_labels():
    model = tiny_bert(BertForTokenClassification, num_labels=4).eval()
    ids = torch.randint(1, 100, (3, SEQ), generator=torch.Generator().manual_seed(1))
    labels = torch.randint(0, 4, (3, SEQ), generator=torch.Generator().manual_seed(2))
    labels[:, :2] = -100
    weights = [0.5, 1.0, 2.0, 3.0]
    outputs = model(input_ids=ids)
    value = WeightedComputeLoss(weights)(outputs, labels)
    expected = weighted_cross_entropy(outputs.logits.detach().double().numpy().reshape(-1, 4), labels.numpy().reshape(-1),
                                      class_weight=weights, ignore_index=-100)
    np.testing.assert_allclose(value.item(), expected, rtol=1e-6)


def test_trap7_all_labels_ignored_gives_zero_with_zero_gradient():
    """TRAPS 7: every label -100 -> loss 0 and zero gradient, not NaN."""
    logits = torch.randn(4, 3, requires_grad=True)
    labels = torch.full((4,), -100)
    for reduction in ("mean", "mean_per_sample", "sum"):
        loss = WeightedComputeLoss([1.0, 2.0, 3.0], reduction=reduction)({"logits": logits}, labels)
        loss.backward()
        assert loss.item() == 0.0 and torch.all(logits.grad == 0)
        logits.grad = None


def test_trap11_half_precision_logits_are_computed_in_float32():
    """TRAPS 11: bfloat16 logits give the reference value (wce.torch computes in float32) in bfloat16."""
    logits = torch.tensor([[30.0, 0.0, -30.0], [0.5, 0.25, 0.0]]).bfloat16()
    labels = torch.tensor([2, 1])
    value = WeightedComputeLoss([1.0, 2.0, 3.0])({"logits": logits}, labels)
    assert value.dtype == torch.bfloat16
    expected = weighted_cross_entropy(logits.double().numpy(), labels.numpy(), class_weight=[1.0, 2.0, 3.0])
    np.testing.assert_allclose(value.double().item(), expected, rtol=2 ** -8)


def test_loss_bad_input_messages():
    with pytest.raises(ValueError, match="The 'reduction' parameter of WeightedComputeLoss must be one of"):
        WeightedComputeLoss([1.0, 2.0], reduction="avg")
    with pytest.raises(ValueError, match="must be non-negative"):
        WeightedComputeLoss([1.0, -2.0])
    with pytest.raises(ValueError, match=r"one weight per class \(3\). Got shape \(2,\)"):
        WeightedComputeLoss([1.0, 2.0])({"logits": torch.zeros(2, 3)}, torch.tensor([0, 1]))
    with pytest.raises(ValueError, match=r"must be class indices in \[0, 2\] \(ignore_index=-100 is exempt\)"):
        WeightedComputeLoss([1.0, 2.0, 3.0])({"logits": torch.zeros(2, 3)}, torch.tensor([0, 7]))
    with pytest.raises(TypeError, match="missing 1 required keyword-only argument: 'class_weight'"):
        WeightedLossTrainer(model=tiny_bert())


def test_weighted_loss_trainer_refuses_accumulation_on_trainers_without_the_scaling_flag(
        dataset, tmp_path, monkeypatch):
    """On an older Trainer the global loss would be divided by the accumulation steps again."""
    import wce.huggingface as hf

    monkeypatch.setattr(hf, "_TRAINER_KNOWS_SCALED_LOSS", False)
    with pytest.raises(ValueError, match="needs a transformers Trainer with 'loss_is_scaled_for_ga'"):
        WeightedLossTrainer(model=tiny_bert(), class_weight=[1.0, 2.0, 3.0],
                            args=training_args(tmp_path, gradient_accumulation_steps=2))
    WeightedLossTrainer(model=tiny_bert(), class_weight=[1.0, 2.0, 3.0], args=training_args(tmp_path))


def test_weighted_loss_trainer_without_labels_says_so(dataset, tmp_path):
    ds, _ = dataset
    trainer = WeightedLossTrainer(model=tiny_bert(), class_weight=[1.0, 2.0, 3.0],
                                  train_dataset=ds.rename_column("label", "target"),
                                  args=training_args(tmp_path, remove_unused_columns=False))
    with pytest.raises(ValueError, match="needs the labels in a 'labels' column"):
        trainer.train()


def test_docstring_examples_run():
    import doctest

    import wce.huggingface

    result = doctest.testmod(wce.huggingface, optionflags=doctest.ELLIPSIS)
    assert result.attempted > 0 and result.failed == 0
