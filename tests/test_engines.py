"""Class counts at scale: the local, Dask and Spark engines give the same ClassCounts.

Dask runs on its synchronous scheduler (one test on threads); Spark in ``local[2]``
mode, one session for the whole module.
"""

from __future__ import annotations

import json
import shutil

import numpy as np
import pytest
from hypothesis import given
from hypothesis import strategies as st

pa = pytest.importorskip("pyarrow")
pq = pytest.importorskip("pyarrow.parquet")
dd = pytest.importorskip("dask.dataframe")
pd = pytest.importorskip("pandas")

from wce.cli import main  # noqa: E402
from wce.weights import ClassCounts, class_weights  # noqa: E402
from wce.weights import dask as wdask  # noqa: E402
from wce.weights.engines import count_file  # noqa: E402

import dask  # noqa: E402
import dask.array as da  # noqa: E402

N = 3000
IGNORE = 255


def _data(seed: int = 7) -> dict:
    rng = np.random.default_rng(seed)
    y = rng.choice(6, size=N, p=[0.6, 0.2, 0.1, 0.06, 0.03, 0.01])
    names = np.array(["cat", "dog", "eel", "fox", "gnu", "hen"])
    ml = [sorted(set(rng.choice(8, size=rng.integers(0, 4)).tolist())) for _ in range(N)]
    masks = rng.choice([0, 1, 2, 3, IGNORE], size=(N, 3, 4), p=[0.5, 0.25, 0.1, 0.05, 0.1])
    masks[rng.random(N) < 0.5, :, :] = 0  # many images without any foreground class
    y_null = pd.array(y, dtype="Int64")
    y_null[rng.random(N) < 0.05] = pd.NA
    ml_null = [list(r) for r in ml]
    for i in rng.choice(N, 40, replace=False):
        ml_null[i] = None
    for i in rng.choice(N, 30, replace=False):
        if ml_null[i] is not None:
            ml_null[i] = ml_null[i] + [None]
    return {"y": y, "s": names[y], "ml": ml, "m": masks, "y_null": y_null, "ml_null": ml_null}


@pytest.fixture(scope="module")
def data():
    return _data()


@pytest.fixture(scope="module")
def files(tmp_path_factory, data):
    root = tmp_path_factory.mktemp("engines")
    table = pa.table({
        "y": pa.array(data["y"]),
        "s": pa.array(data["s"]),
        "ml": pa.array(data["ml"], pa.list_(pa.int64())),
        "m": pa.array(data["m"].tolist(), pa.list_(pa.list_(pa.int64()))),
        "y_null": pa.array(data["y_null"].to_numpy(dtype=object, na_value=None), pa.int64()),
        "ml_null": pa.array(data["ml_null"], pa.list_(pa.int64())),
    })
    parquet = root / "labels.parquet"
    pq.write_table(table, parquet, row_group_size=700)  # several batches and partitions
    csv = root / "labels.csv"
    pd.DataFrame({"y": data["y"], "s": data["s"]}).to_csv(csv, index=False)
    return {"parquet": str(parquet), "csv": str(csv)}


@pytest.fixture(scope="module")
def spark():
    pytest.importorskip("pyspark")
    if shutil.which("java") is None:
        pytest.skip("Spark needs Java")
    from wce.weights.spark import local_session

    # tiny data: a C1-only JIT and no whole-stage code generation start and warm up faster
    session = local_session("local[2]", **{
        "spark.sql.shuffle.partitions": "2", "spark.default.parallelism": "2",
        "spark.driver.extraJavaOptions": "-XX:+UseSerialGC -XX:TieredStopAtLevel=1",
        "spark.sql.codegen.wholeStage": "false", "spark.sql.adaptive.enabled": "false"})
    yield session
    session.stop()


@pytest.fixture(autouse=True)
def synchronous_dask():
    with dask.config.set(scheduler="synchronous"):
        yield


def _all_engines(path, target, spark, **kw):
    return {engine: count_file(path, target, engine=engine, **kw) for engine in ("local", "dask", "spark")}


def _assert_identical(results: dict, expected: ClassCounts) -> None:
    for engine, got in results.items():
        assert got == expected, engine
        assert sorted(got.classes) == sorted(expected.classes), engine
        np.testing.assert_array_equal(
            [got.as_dict()[c] for c in expected.classes], expected.counts, err_msg=engine)


# ------------------------------------------------------- same counts everywhere
@pytest.mark.parametrize("target", ["y", "s"])
def test_multiclass_identical_in_all_engines(files, data, spark, target):
    expected = ClassCounts.from_labels(data[target])
    _assert_identical(_all_engines(files["parquet"], target, spark), expected)


def test_csv_identical_in_all_engines(files, data, spark):
    _assert_identical(_all_engines(files["csv"], "y", spark), ClassCounts.from_labels(data["y"]))


def test_multilabel_lists_identical_in_all_engines(files, data, spark):
    flat = np.concatenate([np.asarray(r, dtype=np.int64) for r in data["ml"]])
    expected = ClassCounts.from_labels(flat)
    expected.kind, expected.n_rows = "multilabel", N
    _assert_identical(_all_engines(files["parquet"], "ml", spark), expected)


def test_trap5_mask_pixels_in_present_identical_in_all_engines(files, data, spark):
    """Trap 5: every engine counts a nested-list mask column like the in-memory reference,
    including Eigen & Fergus' denominator (pixels of the images *containing* each class)."""
    expected = ClassCounts.from_labels(data["m"], kind="mask", ignore_index=IGNORE)
    results = _all_engines(files["parquet"], "m", spark, kind="mask", ignore_index=IGNORE)
    _assert_identical(results, expected)
    # an independent count of the denominator: pixels (non-void) of images holding class c
    valid = (data["m"] != IGNORE).reshape(N, -1).sum(axis=1)
    for c in expected.classes:
        holds = (data["m"] == c).reshape(N, -1).any(axis=1)
        for got in results.values():
            assert got.pixels_in_present[got.classes.index(c)] == valid[holds].sum()
    image = class_weights(expected, scheme="median_frequency", median_definition="image")
    for got in results.values():
        np.testing.assert_allclose(
            class_weights(got, scheme="median_frequency", median_definition="image",
                          classes=expected.classes), image)


def test_dask_threaded_scheduler(files, data):
    got = count_file(files["parquet"], "y", engine="dask", scheduler="threads")
    assert got == ClassCounts.from_labels(data["y"])


def test_declared_classes_keep_absent_classes(files, data, spark):
    classes = (0, 1, 2, 3, 4, 5, 6)
    for got in _all_engines(files["parquet"], "y", spark, classes=classes).values():
        assert got.classes == classes and got.as_dict()[6] == 0


def test_undeclared_label_is_an_error(files, spark):
    for engine in ("dask", "spark"):
        with pytest.raises(ValueError, match="not among the declared classes"):
            count_file(files["parquet"], "y", engine=engine, classes=(0, 1))


# ---------------------------------------------------------------- null labels
@pytest.mark.parametrize("target", ["y_null", "ml_null"])
def test_null_labels_refused_by_default_in_all_engines(files, spark, target):
    for engine in ("local", "dask", "spark"):
        with pytest.raises(ValueError, match=r"missing label\(s\).*null='skip'"):
            count_file(files["parquet"], target, engine=engine)


def test_null_skip_matches_local_reader(files, data, spark):
    y = data["y_null"]
    expected = ClassCounts.from_labels(np.asarray(y[~y.isna()], dtype=np.int64))
    _assert_identical(_all_engines(files["parquet"], "y_null", spark, null="skip"), expected)
    results = _all_engines(files["parquet"], "ml_null", spark, null="skip")
    rows = [r for r in data["ml_null"] if r is not None]
    flat = np.asarray([v for r in rows for v in r if v is not None], dtype=np.int64)
    expected = ClassCounts.from_labels(flat)
    expected.kind, expected.n_rows = "multilabel", len(rows)
    _assert_identical(results, expected)


def test_nan_is_a_missing_label(spark):
    ddf = dd.from_pandas(pd.DataFrame({"y": [0.0, 1.0, np.nan, 1.0]}), npartitions=2)
    with pytest.raises(ValueError, match=r"has 1 missing label"):
        wdask.class_counts(ddf, target="y")
    assert wdask.class_counts(ddf, target="y", null="skip").as_dict() == {0: 1, 1: 2}
    from wce.weights.spark import class_counts

    df = spark.createDataFrame([(0.0,), (1.0,), (float("nan"),), (None,)], ["y"])
    with pytest.raises(ValueError, match=r"has 2 missing label"):
        class_counts(df, "y")
    got = class_counts(df, "y", null="skip")
    assert got.as_dict() == {0: 1, 1: 1} and got.n_rows == 2


# ------------------------------------------------------------------ bad input
def test_missing_column_in_all_engines(files, spark):
    for engine in ("local", "dask", "spark"):
        with pytest.raises(ValueError, match=r"Column 'nope' is not in .*Columns: y, s"):
            count_file(files["parquet"], "nope", engine=engine)
    with pytest.raises(ValueError, match="Column 'nope' is not in the Dask DataFrame"):
        wdask.class_counts(dd.from_pandas(pd.DataFrame({"y": [1]}), npartitions=1), target="nope")
    from wce.weights.spark import class_counts

    with pytest.raises(ValueError, match="Column 'nope' is not in the Spark DataFrame"):
        class_counts(spark.createDataFrame([(1,)], ["y"]), "nope")


def test_mixed_label_types_are_an_error():
    with dask.config.set({"dataframe.convert-string": False}):
        ddf = dd.from_pandas(pd.DataFrame({"y": pd.Series([1, "a", 2, "b"], dtype=object)}),
                             npartitions=2)
        with pytest.raises(TypeError, match=r"(Class labels mix types \(int, str\)|mixes label types: int)"):
            wdask.class_counts(ddf, target="y")


def test_non_label_types_are_an_error(spark):
    ddf = dd.from_pandas(pd.DataFrame({"y": [0.5, 1.0]}), npartitions=1)
    with pytest.raises(TypeError, match="look like probabilities"):
        wdask.class_counts(ddf, target="y")
    from wce.weights.spark import class_counts

    df = spark.createDataFrame([({"a": 1},)], ["y"])
    with pytest.raises(TypeError, match="class labels must be integers, strings or booleans"):
        class_counts(df, "y")


def test_kind_must_fit_the_column(files):
    with pytest.raises(ValueError, match="holds a list of labels per row"):
        count_file(files["parquet"], "ml", engine="dask", kind="multiclass")
    with pytest.raises(ValueError, match="kind='mask' needs a list"):
        count_file(files["parquet"], "y", engine="dask", kind="mask")
    with pytest.raises(ValueError, match="kind='mask' needs a list"):
        count_file(files["parquet"], "y", engine="local", kind="mask")
    with pytest.raises(ValueError, match="The 'kind' parameter must be one of"):
        count_file(files["parquet"], "y", engine="dask", kind="pixels")


def test_bad_engine_target_and_null(files):
    with pytest.raises(ValueError, match="The 'engine' parameter must be one of"):
        count_file(files["parquet"], "y", engine="ray")
    with pytest.raises(ValueError, match="pass target=<column>"):
        count_file(files["parquet"], None, engine="dask")
    with pytest.raises(ValueError, match="The 'null' parameter must be one of"):
        count_file(files["parquet"], "y", engine="dask", null="drop")
    with pytest.raises(FileNotFoundError, match="No such file"):
        count_file(files["parquet"] + ".missing", "y", engine="dask")
    with pytest.raises(TypeError, match="takes a Dask DataFrame, Series or Array"):
        wdask.class_counts([1, 2, 3])


# ---------------------------------------------------------------- dask arrays
def test_dask_arrays_match_in_memory_counts(data):
    assert wdask.class_counts(da.from_array(data["y"], chunks=500)) == ClassCounts.from_labels(data["y"])
    masks = da.from_array(data["m"], chunks=(400, 2, 4))  # split inside images on purpose
    expected = ClassCounts.from_labels(data["m"], kind="mask", ignore_index=IGNORE)
    assert wdask.class_counts(masks, ignore_index=IGNORE) == expected
    k_hot = (np.random.default_rng(0).random((200, 5)) < 0.3).astype(np.int8)
    got = wdask.class_counts(da.from_array(k_hot, chunks=64), kind="multilabel")
    assert got == ClassCounts.from_labels(k_hot, kind="multilabel")
    with pytest.raises(ValueError, match="ambiguous"):
        wdask.class_counts(da.from_array(k_hot, chunks=64))
    with pytest.raises(ValueError, match="k-hot"):
        wdask.class_counts(da.from_array(k_hot * 2, chunks=64), kind="multilabel")


@given(labels=st.lists(st.integers(0, 5) | st.sampled_from([None]), min_size=1, max_size=60),
       partitions=st.integers(1, 4))
def test_dask_series_property_matches_from_labels(labels, partitions):
    """Any partitioning gives the in-memory counts of the non-missing labels."""
    series = pd.Series(pd.array(labels, dtype="Int64"), name="y")
    ddf = dd.from_pandas(series.to_frame(), npartitions=min(partitions, len(labels)))
    kept = [v for v in labels if v is not None]
    got = wdask.class_counts(ddf, target="y", null="skip")
    assert got.as_dict() == ClassCounts.from_labels(np.asarray(kept, dtype=np.int64)).as_dict()
    assert got.n_rows == len(kept)
    if len(kept) < len(labels):
        with pytest.raises(ValueError, match="missing label"):
            wdask.class_counts(ddf, target="y")


# ------------------------------------------------------------------------ CLI
def test_cli_engines_print_the_same_weights(files, spark, capsys):
    outputs = {}
    for engine in ("local", "dask", "spark"):
        code = main(["weights", files["parquet"], "--target", "s", "--engine", engine,
                     "--format", "json", "--no-progress"])
        assert code == 0
        outputs[engine] = json.loads(capsys.readouterr().out)
    assert outputs["local"] == outputs["dask"] == outputs["spark"]
    assert outputs["local"]["n_rows"] == N


def test_cli_engine_errors_exit_2(files, capsys):
    code = main(["weights", files["parquet"], "--target", "y_null", "--engine", "dask",
                 "--format", "json"])
    assert code == 2
    assert "missing label(s)" in capsys.readouterr().err


def test_local_batch_size_does_not_change_counts(files, data):
    """Counts from many small record batches equal one pass (class order aside)."""
    assert count_file(files["parquet"], "y", batch_size=97) == ClassCounts.from_labels(data["y"])
    expected = ClassCounts.from_labels(data["m"], kind="mask", ignore_index=IGNORE)
    assert count_file(files["parquet"], "m", kind="mask", ignore_index=IGNORE, batch_size=97) == expected
