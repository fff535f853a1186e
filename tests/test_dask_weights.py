"""Per-row class weights for Dask DataFrames: ``wce.weights.dask.with_sample_weight``.

The synchronous scheduler for the weights themselves; one in-process ``LocalCluster``
for the scheduler-address tests.
"""

from __future__ import annotations

import time

import numpy as np
import pytest

dask = pytest.importorskip("dask")
dd = pytest.importorskip("dask.dataframe")
pd = pytest.importorskip("pandas")

from wce.weights import ClassCounts, class_weights  # noqa: E402
from wce.weights.dask import class_counts, with_sample_weight  # noqa: E402


@pytest.fixture(autouse=True)
def synchronous_dask():
    with dask.config.set(scheduler="synchronous"):
        yield


def _local_weights(labels, **options):
    counts = ClassCounts.from_labels(labels)
    w = dict(zip(counts.classes, class_weights(counts, **options)))
    return np.array([w[v] for v in labels])


@pytest.mark.parametrize("scheme, options", [("balanced", {}), ("effective_number", {"beta": 0.99}),
                                             ("median_frequency", {"normalize": "mean_one"})])
def test_weight_column_equals_local_per_row_weights(scheme, options):
    rng = np.random.default_rng(2)
    y = rng.choice(4, size=500, p=[0.7, 0.2, 0.07, 0.03])
    names = np.array(["cat", "dog", "eel", "fox"])[y]
    frame = pd.DataFrame({"x": rng.normal(size=500), "y": y, "s": names})
    ddf = dd.from_pandas(frame, npartitions=5)
    for label, labels in (("y", y), ("s", names.tolist())):
        got = with_sample_weight(ddf, label, scheme=scheme, **options).compute()
        want = _local_weights(labels, scheme=scheme, **options)
        np.testing.assert_array_equal(got["weight"].to_numpy(), want)
        pd.testing.assert_frame_equal(got.drop(columns="weight"), frame, check_dtype=False)
    assert list(ddf.columns) == ["x", "y", "s"]


def test_float_labels_declared_classes_and_column_name():
    ddf = dd.from_pandas(pd.DataFrame({"y": [1.0, 0.0, 1.0, 1.0]}), npartitions=2)
    got = with_sample_weight(ddf, "y", col="w")["w"].compute()
    np.testing.assert_allclose(got, [4 / 6, 2, 4 / 6, 4 / 6])
    ddf = dd.from_pandas(pd.DataFrame({"y": [0, 0, 1]}), npartitions=2)
    got = with_sample_weight(ddf, "y", classes=[0, 1, 2], zero_count="zero")["weight"].compute()
    np.testing.assert_allclose(got, [0.5, 0.5, 1.0])


def test_null_labels_error_or_nan_weight():
    ddf = dd.from_pandas(pd.DataFrame({"y": pd.array([1, None, 0, 1], dtype="Int64")}), npartitions=2)
    with pytest.raises(ValueError, match=r"Column 'y' of the Dask DataFrame has 1 missing label"):
        with_sample_weight(ddf, "y")
    got = with_sample_weight(ddf, "y", null="skip")["weight"].compute()
    np.testing.assert_allclose(got, [0.75, np.nan, 1.5, 0.75])


def _two_partitions(first: pd.DataFrame, second: pd.DataFrame, meta: pd.DataFrame | None = None):
    """A Dask DataFrame whose partitions disagree with its metadata (as from_map or
    from_delayed of files with different schemas can give)."""
    meta = first if meta is None else meta
    return dd.from_delayed([dask.delayed(first), dask.delayed(second)], meta=meta.iloc[:0],
                           verify_meta=False)


def test_label_column_missing_in_one_partition_names_the_partition():
    ddf = _two_partitions(pd.DataFrame({"y": [0, 1, 1], "x": [1.0, 2.0, 3.0]}),
                          pd.DataFrame({"label": [0, 1], "x": [1.0, 2.0]}))
    pattern = (r"Column 'y' of the Dask DataFrame: partition 1 has no column 'y' "
               r"\(its columns: label, x\)\. "
               "Every partition needs the label column.")
    with pytest.raises(ValueError, match=pattern):
        with_sample_weight(ddf, "y")
    with pytest.raises(ValueError, match=pattern):
        class_counts(ddf, "y")
    with dask.config.set({"dataframe.convert-string": False}):  # object labels, first partition
        second = pd.DataFrame({"y": ["a", "b"]})
        ddf = _two_partitions(pd.DataFrame({"label": ["a"]}), second, meta=second)
    with pytest.raises(ValueError, match=r"partition 0 has no column 'y' \(its columns: label\)"):
        with_sample_weight(ddf, "y")


def test_mixed_label_types_across_partitions_name_the_partitions():
    ints = dd.from_pandas(pd.DataFrame({"y": [0, 1, 1]}), npartitions=1)
    strings = dd.from_pandas(pd.DataFrame({"y": ["a", "b"]}), npartitions=1)
    mixed = dd.concat([ints, strings])
    with pytest.raises(TypeError, match=r"Class labels mix types \(int, str\): Column 'y' of the Dask "
                                        r"DataFrame has int labels first in partition 0, str labels "
                                        r"first in partition 1\."):
        with_sample_weight(mixed, "y")


def test_bad_input_is_one_line_error():
    ddf = dd.from_pandas(pd.DataFrame({"id": [0, 1], "y": [0, 1]}), npartitions=1)
    with pytest.raises(ValueError,
                       match=r"Column 'label' is not in the Dask DataFrame. Columns: id, y\."):
        with_sample_weight(ddf, "label")
    with pytest.raises(ValueError, match="Column 'id' is already in the Dask DataFrame"):
        with_sample_weight(ddf, "y", col="id")
    empty = dd.from_pandas(pd.DataFrame({"y": pd.Series([], dtype="int64")}), npartitions=1)
    with pytest.raises(ValueError, match=r"Column 'y' of the Dask DataFrame has no labelled rows"):
        with_sample_weight(empty, "y")
    with dask.config.set({"dataframe.convert-string": False}):  # else Dask turns lists into strings
        lists = dd.from_pandas(pd.DataFrame({"y": pd.Series([[0, 1], [1]], dtype=object)}),
                               npartitions=1)
    with pytest.raises(ValueError, match="one label per row"):
        with_sample_weight(lists, "y")
    with pytest.raises(TypeError, match="takes a Dask DataFrame. Got DataFrame"):
        with_sample_weight(pd.DataFrame({"y": [1]}), "y")
    assert list(ddf.columns) == ["id", "y"]


def test_unreachable_scheduler_is_a_one_line_error_within_the_timeout():
    pytest.importorskip("distributed")
    ddf = dd.from_pandas(pd.DataFrame({"y": [0, 1, 1]}), npartitions=1)
    start = time.perf_counter()
    with pytest.raises(ConnectionError, match=r"Cannot reach the Dask scheduler at "
                                              r"'tcp://127\.0\.0\.1:9' within 2 s "
                                              r"\(Timed out trying to connect"):
        with_sample_weight(ddf, "y", scheduler="tcp://127.0.0.1:9", timeout=2)
    assert time.perf_counter() - start < 15


def test_scheduler_address_counts_on_that_cluster():
    distributed = pytest.importorskip("distributed")
    ddf = dd.from_pandas(pd.DataFrame({"y": [0, 0, 0, 1]}), npartitions=2)
    with distributed.LocalCluster(n_workers=1, threads_per_worker=1, processes=False,
                                  dashboard_address=None) as cluster:
        got = with_sample_weight(ddf, "y", scheduler=cluster.scheduler_address, timeout=10)
        np.testing.assert_allclose(got["weight"].compute(), [2 / 3, 2 / 3, 2 / 3, 2.0])
        assert class_counts(ddf, "y", scheduler=cluster.scheduler_address).as_dict() == {0: 3, 1: 1}


def test_count_file_called_directly_refuses_missing_labels_by_default(tmp_path):
    """wce.weights.dask.count_file has the same null='error' default as every other reader."""
    pd = pytest.importorskip("pandas")
    from wce.weights.dask import count_file

    path = tmp_path / "t.parquet"
    pd.DataFrame({"y": ["a", None, "b", "a"]}).to_parquet(path)
    with pytest.raises(ValueError, match="missing"):
        count_file(path, "y", scheduler="synchronous")
    assert count_file(path, "y", null="skip", scheduler="synchronous").as_dict() == {"a": 2, "b": 1}
