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
    original = readers.Tally.add

    def counting(self, column, *args):
        calls.append(len(column))
        return original(self, column, *args)

    monkeypatch.setattr(readers.Tally, "add", counting)
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


# ----------------------------------------------------------------------------- fast path
def _simple_counts(values, null="skip"):
    """The counts of a list of labels the slow, obvious way (a Counter of Python values)."""
    from collections import Counter

    kept = [v for v in values if v is not None and v == v]  # None and NaN are missing
    kept = [int(v) if isinstance(v, float) else v for v in kept]
    tally = Counter(kept)
    classes = sorted(tally)
    return ClassCounts(tuple(classes), np.array([tally[c] for c in classes], dtype=np.int64),
                       n_rows=len(kept))


WIDE = [-(2 ** 40), 0, 2 ** 40, 7, 7]  # a range too wide for one dense bincount
COLUMNS = {
    "ints": pa.array([3, 1, 1, 0, 2, 3, 3], pa.int64()),
    "nulls": pa.array([1, None, 0, 1, None, 1], pa.int64()),
    "negative": pa.array([-5, -1, 0, -5, 3, -1, -1], pa.int32()),
    "int8": pa.array([-128, 127, 0, 127], pa.int8()),
    "uint64_large": pa.array([2 ** 64 - 1, 0, 2 ** 64 - 1], pa.uint64()),
    "uint8": pa.array([255, 0, 255, 3], pa.uint8()),
    "wide": pa.array(WIDE, pa.int64()),
    "bools": pa.array([True, False, True, None, True]),
    "strings": pa.array(["b", "a", None, "b", "c", "a", "b"]),
    "dictionary": pa.array(["x", "y", "x", None, "z", "x"]).dictionary_encode(),
    "int_dictionary": pa.array([5, 2, 5, 5]).dictionary_encode(),
    "floats": pa.array([1.0, 0.0, float("nan"), 1.0, None, -2.0]),
    "empty": pa.array([], pa.int64()),
    "empty_strings": pa.array([], pa.string()),
    "all_null": pa.array([None, None], pa.null()),
}


@pytest.mark.parametrize("name", sorted(COLUMNS))
@pytest.mark.parametrize("batch_size", [1, 2, 1 << 16])
def test_fast_parquet_counts_equal_the_simple_count(tmp_path, name, batch_size):
    column = COLUMNS[name]
    path = tmp_path / "c.parquet"
    pq.write_table(pa.table({"y": column}), path, row_group_size=3)
    got = ClassCounts.from_parquet(path, "y", null="skip", batch_size=batch_size)
    expected = _simple_counts(column.to_pylist())
    assert got == expected and got.n_rows == expected.n_rows
    assert list(got.classes) == sorted(got.classes)  # sorted, whatever the batches
    assert all(type(c) is type(e) for c, e in zip(got.classes, expected.classes))
    csv_path = tmp_path / "c.csv"  # the same column through the CSV reader
    if name not in ("empty", "empty_strings", "all_null", "dictionary", "int_dictionary", "floats",
                    "uint64_large"):  # (CSV reads integers beyond int64 as floats)
        text = "\n".join("" if v is None else str(v).lower() if isinstance(v, bool) else str(v)
                         for v in column.to_pylist())
        csv_path.write_text("y\n" + text + "\n")
        assert ClassCounts.from_csv(csv_path, "y", null="skip", block_size=64) == expected


def test_dense_range_grows_across_batches_and_falls_back(tmp_path):
    rng = np.random.default_rng(3)
    y = np.concatenate([rng.integers(0, 5, 1000), rng.integers(-40, -30, 1000),
                        rng.integers(10 ** 9, 10 ** 9 + 3, 1000), rng.integers(0, 5, 1000)])
    path = tmp_path / "g.parquet"
    pq.write_table(pa.table({"y": y}), path, row_group_size=1000)
    got = ClassCounts.from_parquet(path, "y", batch_size=1000)
    assert got == ClassCounts.from_labels(y)
    assert list(got.classes) == sorted(set(y.tolist()))


def test_fast_path_null_error_ignore_index_and_lists(tmp_path):
    path = tmp_path / "n.parquet"
    pq.write_table(pa.table({"y": pa.array([1, None, 255, 1], pa.int64()),
                             "tags": pa.array([[0, 2], None, [2, None], []])}), path)
    with pytest.raises(ValueError, match=r"Column 'y' of .* has 1 missing label\(s\)"):
        ClassCounts.from_parquet(path, "y")
    got = ClassCounts.from_parquet(path, "y", null="skip", ignore_index=255)
    assert got.as_dict() == {1: 2} and got.n_rows == 3
    tags = ClassCounts.from_parquet(path, "tags", null="skip")
    assert tags.kind == "multilabel" and tags.as_dict() == {0: 1, 2: 2} and tags.n_rows == 3


def test_nan_is_a_missing_label(tmp_path):
    path = tmp_path / "f.parquet"
    pq.write_table(pa.table({"y": [1.0, float("nan"), 0.0]}), path)
    with pytest.raises(ValueError, match=r"has 1 missing label\(s\)"):
        ClassCounts.from_parquet(path, "y")
    assert ClassCounts.from_parquet(path, "y", null="skip").as_dict() == {0: 1, 1: 1}


@pytest.mark.parametrize("suffix", ["parquet", "csv"])
def test_float_labels_name_the_file_and_column(tmp_path, suffix):
    path = tmp_path / f"p.{suffix}"
    if suffix == "csv":
        path.write_text("x,score\n1,0.0\n2,1.5\n3,1.0\n")
    else:
        pq.write_table(pa.table({"score": [0.0, 1.5, 1.0]}), path)
    reader = ClassCounts.from_csv if suffix == "csv" else ClassCounts.from_parquet
    with pytest.raises(ValueError, match=rf"Column 'score' of '.*p\.{suffix}' holds the label 1\.5 "
                                         r"\(1 non-integer value\(s\)\).*probabilities"):
        reader(path, "score")


def test_csv_with_a_utf8_byte_order_mark(tmp_path):
    path = tmp_path / "excel.csv"
    path.write_bytes("label,x\r\nfraud,1\r\nok,2\r\nok,3\r\n".encode("utf-8-sig"))
    assert readers.csv_columns(str(path)) == ["label", "x"]
    assert ClassCounts.from_csv(path, "label").as_dict() == {"fraud": 1, "ok": 2}


def test_a_folder_or_a_non_parquet_file_is_a_clear_error(tmp_path):
    with pytest.raises(IsADirectoryError, match=r"is a folder, not a Parquet file"):
        ClassCounts.from_parquet(tmp_path, "y")
    with pytest.raises(IsADirectoryError, match=r"is a folder, not a CSV file"):
        ClassCounts.from_csv(tmp_path, "y")
    bogus = tmp_path / "not.parquet"
    bogus.write_text("y\n1\n")
    with pytest.raises(ValueError, match=r"'.*not\.parquet' is not a readable Parquet file"):
        ClassCounts.from_parquet(bogus, "y")


def test_positive_class_is_the_minority_unless_given():
    counts = ClassCounts.from_labels(["ok"] * 97 + ["fraud"] * 3)
    assert counts.positive_class() == "fraud"
    assert counts.positive_class("ok") == "ok"
    assert ClassCounts.from_labels([0, 1, 1, 0]).positive_class() == 1  # a tie: the last sorted
    assert ClassCounts.from_labels([2, 0, 1, 1, 2, 0]).positive_class() == 2
    assert ClassCounts.from_labels([True, False]).positive_class() is True
    with pytest.raises(ValueError, match=r"The positive class 'x' is not one of the classes"):
        counts.positive_class("x")
    with pytest.raises(ValueError, match=r"not one of the classes"):
        ClassCounts.from_labels([0, 1]).positive_class(True)


@pytest.mark.parametrize("statistics", [True, False])
def test_parquet_statistics_are_only_a_hint(tmp_path, monkeypatch, statistics):
    y = np.array([-3, 4, 4, 0, 7, -3, 4])
    path = tmp_path / "s.parquet"
    pq.write_table(pa.table({"y": y}), path, row_group_size=3, write_statistics=statistics)
    assert ClassCounts.from_parquet(path, "y", batch_size=2) == ClassCounts.from_labels(y)
    # statistics that do not hold (a smaller range than the data) fall back to min/max
    monkeypatch.setattr(readers, "_int_bounds", lambda pf, target, group: (0, 1))
    assert ClassCounts.from_parquet(path, "y", batch_size=2) == ClassCounts.from_labels(y)
