"""ClassCounts readers: Parquet and CSV in several batches, pandas/polars frames, batch iterables."""

from __future__ import annotations

import numpy as np
import pyarrow as pa
import pyarrow.parquet as pq
import pytest

import wce.weights._readers as readers
from wce.weights import ClassCounts, class_weights

RNG = np.random.default_rng(11)
Y = RNG.choice([0, 1, 2], size=300, p=[0.7, 0.2, 0.1])
EXPECTED = ClassCounts.from_labels(Y)


@pytest.fixture
def batch_counter(monkeypatch):
    """Count the record batches the file readers hand to the counting function."""
    calls = []
    original = readers.arrow_value_counts

    def counting(column, **kwargs):
        calls.append(len(column))
        return original(column, **kwargs)

    monkeypatch.setattr(readers, "arrow_value_counts", counting)
    return calls


# ----------------------------------------------------------------------------- Parquet
def test_parquet_in_small_batches_equals_counting_in_memory(tmp_path, batch_counter):
    path = tmp_path / "d.parquet"
    pq.write_table(pa.table({"x": RNG.normal(size=Y.size), "label": Y}), path, row_group_size=64)
    counts = ClassCounts.from_parquet(path, "label", batch_size=25)
    assert counts == EXPECTED and counts.n_rows == Y.size
    assert len(batch_counter) >= 12 and max(batch_counter) <= 25  # really read in batches
    np.testing.assert_allclose(class_weights(counts), class_weights(Y))


def test_parquet_strings_dictionary_lists_and_declared_classes(tmp_path):
    path = tmp_path / "s.parquet"
    pq.write_table(pa.table({"y": pa.array(["b", "a", "b", "b"]).dictionary_encode()}), path)
    assert ClassCounts.from_parquet(path, "y").as_dict() == {"a": 1, "b": 3}
    declared = ClassCounts.from_parquet(path, "y", classes=["b", "a", "c"])
    assert declared.classes == ("b", "a", "c") and declared.counts.tolist() == [3, 1, 0]
    with pytest.raises(ValueError, match=r"Labels \['b'\] are not among the declared classes"):
        ClassCounts.from_parquet(path, "y", classes=["a"])
    lists = tmp_path / "l.parquet"  # one list of labels per row: multi-label
    pq.write_table(pa.table({"tags": pa.array([[0, 2], [1], [], [2, 2]])}), lists)
    counts = ClassCounts.from_parquet(lists, "tags")
    assert counts.kind == "multilabel" and counts.as_dict() == {0: 1, 1: 1, 2: 3}
    assert counts.n_rows == 4


def test_parquet_integral_floats_and_ignore_index(tmp_path):
    path = tmp_path / "f.parquet"
    pq.write_table(pa.table({"y": pa.array([0.0, 1.0, 1.0, 255.0])}), path)
    counts = ClassCounts.from_parquet(path, "y", ignore_index=255)
    assert counts.as_dict() == {0: 1, 1: 2} and all(type(c) is int for c in counts.classes)


def test_parquet_nulls_error_or_skip(tmp_path):
    path = tmp_path / "n.parquet"
    pq.write_table(pa.table({"y": pa.array(["a", None, "b", "a"])}), path, row_group_size=2)
    with pytest.raises(ValueError, match=r"Column 'y' of '.*n\.parquet' has 1 missing label\(s\)\. "
                                         r"Drop them first, or pass null='skip'"):
        ClassCounts.from_parquet(path, "y")
    counts = ClassCounts.from_parquet(path, "y", null="skip", batch_size=1)
    assert counts.as_dict() == {"a": 2, "b": 1} and counts.n_rows == 3
    with pytest.raises(ValueError, match=r"The 'null' parameter must be one of \('error', 'skip'\)"):
        ClassCounts.from_parquet(path, "y", null="drop")


def test_parquet_missing_file_or_column(tmp_path):
    with pytest.raises(FileNotFoundError, match=r"No such file: '.*nope\.parquet'"):
        ClassCounts.from_parquet(tmp_path / "nope.parquet", "y")
    path = tmp_path / "d.parquet"
    pq.write_table(pa.table({"y": [1, 2]}), path)
    with pytest.raises(ValueError, match=r"Column 'label' is not in .* Columns: y\."):
        ClassCounts.from_parquet(path, "label")


# ----------------------------------------------------------------------------- CSV
def test_csv_in_small_blocks_equals_counting_in_memory(tmp_path, batch_counter):
    path = tmp_path / "d.csv"
    path.write_text("x,label\n" + "\n".join(f"{i * 0.5},{v}" for i, v in enumerate(Y)) + "\n")
    counts = ClassCounts.from_csv(path, "label", block_size=128)
    assert counts == EXPECTED
    assert len(batch_counter) >= 10  # several blocks were read


def test_csv_strings_delimiter_nulls_and_ignore_index(tmp_path):
    path = tmp_path / "s.csv"
    path.write_text("id;label\n1;cat\n2;\n3;dog\n4;cat\n5;void\n")
    with pytest.raises(ValueError, match=r"Column 'label' of .* has 1 missing label\(s\)"):
        ClassCounts.from_csv(path, "label", delimiter=";")
    counts = ClassCounts.from_csv(path, "label", delimiter=";", null="skip", ignore_index="void")
    assert counts.as_dict() == {"cat": 2, "dog": 1}
    with pytest.raises(ValueError, match=r"Column 'y' is not in .* Columns: id, label\."):
        ClassCounts.from_csv(path, "y", delimiter=";")
    numbers = tmp_path / "n.csv"
    numbers.write_text("y\n1\n\n0\n1\n")  # an empty line is skipped by the CSV reader
    assert ClassCounts.from_csv(numbers, "y").as_dict() == {0: 1, 1: 2}


# ----------------------------------------------------------------------------- data frames
def _frame_data():
    return {"label": Y, "cat": (Y == 0).astype(int), "dog": (Y > 0).astype(int)}


@pytest.mark.parametrize("library", ["pandas", "polars"])
def test_dataframe_single_column_and_k_hot_columns(library):
    lib = pytest.importorskip(library)
    df = lib.DataFrame(_frame_data())
    assert ClassCounts.from_dataframe(df, "label") == EXPECTED
    khot = ClassCounts.from_dataframe(df, ["cat", "dog"])
    assert khot.kind == "multilabel" and khot.n_rows == Y.size
    assert khot.as_dict() == {"cat": int((Y == 0).sum()), "dog": int((Y > 0).sum())}
    with pytest.raises(ValueError, match=r"Column\(s\) \['bird'\] not in the data frame"):
        ClassCounts.from_dataframe(df, ["cat", "bird"])


@pytest.mark.parametrize("library", ["pandas", "polars"])
def test_dataframe_nulls_error_or_skip(library):
    lib = pytest.importorskip(library)
    for values, expected in ([["a", None, "b", "a"], {"a": 2, "b": 1}],
                             [[1.0, None, 0.0, 1.0], {0: 1, 1: 2}]):
        df = lib.DataFrame({"y": values})
        with pytest.raises(ValueError, match=r"Column 'y' has 1 missing label\(s\)\. Drop them "
                                             r"first, or pass null='skip'"):
            ClassCounts.from_dataframe(df, "y")
        assert ClassCounts.from_dataframe(df, "y", null="skip").as_dict() == expected


def test_dataframe_pandas_nullable_and_categorical_columns():
    pd = pytest.importorskip("pandas")
    df = pd.DataFrame({"y": pd.Series([1, None, 2, 2], dtype="Int64"),
                       "c": pd.Categorical(["x", "y", "x", "x"])})
    with pytest.raises(ValueError, match=r"missing label"):
        ClassCounts.from_dataframe(df, "y")
    assert ClassCounts.from_dataframe(df, "y", null="skip").as_dict() == {1: 1, 2: 2}
    assert ClassCounts.from_dataframe(df, "c").as_dict() == {"x": 3, "y": 1}


# ----------------------------------------------------------------------------- batches
def test_dataloader_of_tuples_and_of_dicts():
    tuples = [(np.zeros((10, 2)), Y[i:i + 10]) for i in range(0, Y.size, 10)]
    assert ClassCounts.from_dataloader(tuples, progress=False) == EXPECTED
    dicts = [{"pixels": 0, "label": Y[i:i + 7].tolist()} for i in range(0, Y.size, 7)]
    assert ClassCounts.from_dataloader(dicts, progress=False) == EXPECTED
    custom = [{"x": 0, "y_true": Y[i:i + 50]} for i in range(0, Y.size, 50)]
    with pytest.raises(ValueError, match=r"Batches are dicts with keys \['x', 'y_true'\]; pass "
                                         r"target=<key>"):
        ClassCounts.from_dataloader(custom, progress=False)
    assert ClassCounts.from_dataloader(custom, target="y_true", progress=False) == EXPECTED
    indexed = [(Y[i:i + 30], "meta") for i in range(0, Y.size, 30)]
    assert ClassCounts.from_dataloader(indexed, target=0, progress=False) == EXPECTED
    with pytest.raises(ValueError, match=r"The data loader yielded no batches"):
        ClassCounts.from_dataloader(iter([]), progress=False)


def test_dataloader_of_masks_with_ignore_index():
    masks = RNG.integers(0, 3, size=(6, 4, 4))
    masks[0, 0, 0] = 255
    batches = [(None, masks[i:i + 2]) for i in range(0, 6, 2)]
    counts = ClassCounts.from_dataloader(batches, ignore_index=255, progress=False)
    assert counts == ClassCounts.from_labels(masks, ignore_index=255)
    assert counts.kind == "mask" and counts.total == 6 * 16 - 1


def test_pytorch_dataloader():
    torch = pytest.importorskip("torch")
    from torch.utils.data import DataLoader, TensorDataset

    dataset = TensorDataset(torch.zeros(Y.size, 3), torch.tensor(Y))
    loader = DataLoader(dataset, batch_size=32, shuffle=True,
                        generator=torch.Generator().manual_seed(0))
    assert ClassCounts.from_dataloader(loader, progress=False) == EXPECTED
    # with a (transient) progress bar, the default
    assert ClassCounts.from_dataloader(loader) == EXPECTED
    khot = torch.tensor(np.stack([Y == 0, Y == 1], axis=1).astype(np.int64))
    loader = DataLoader(TensorDataset(torch.zeros(Y.size, 1), khot), batch_size=64)
    counts = ClassCounts.from_dataloader(loader, kind="multilabel", progress=False)
    assert counts.as_dict() == {0: int((Y == 0).sum()), 1: int((Y == 1).sum())}
