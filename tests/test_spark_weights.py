"""Per-row class weights for Spark MLlib: ``wce.weights.spark.with_sample_weight``.

One ``local[1]`` session for the module (starting a JVM takes seconds); the data
are a few hundred rows. The last test stops the session.
"""

from __future__ import annotations

import shutil

import numpy as np
import pytest

pytest.importorskip("pyspark")
pd = pytest.importorskip("pandas")
if shutil.which("java") is None:  # pragma: no cover - depends on the machine
    pytest.skip("Spark needs Java", allow_module_level=True)

from wce.weights import ClassCounts, class_weights  # noqa: E402
from wce.weights.spark import class_counts, count_file, local_session, with_sample_weight  # noqa: E402

N = 400


@pytest.fixture(scope="module")
def spark():
    session = local_session("local[1]", **{
        "spark.sql.shuffle.partitions": "1", "spark.default.parallelism": "1",
        "spark.driver.extraJavaOptions": "-XX:+UseSerialGC -XX:TieredStopAtLevel=1",
        "spark.sql.codegen.wholeStage": "false", "spark.sql.adaptive.enabled": "false"})
    yield session
    session.stop()


@pytest.fixture(scope="module")
def data():
    rng = np.random.default_rng(3)
    X = rng.normal(size=(N, 3))
    y = (X[:, 0] - 0.5 * X[:, 1] + rng.normal(size=N) > 1.6).astype(int)  # about 10% positives
    return X, y


@pytest.fixture(scope="module")
def frame(spark, data):
    X, y = data
    pdf = pd.DataFrame({"x0": X[:, 0], "x1": X[:, 1], "x2": X[:, 2], "y": y})
    return spark.createDataFrame(pdf).repartition(3)


def _weights_by_row(df, label, col="weight"):
    rows = df.select("id", label, col).orderBy("id").collect()
    return [r[label] for r in rows], np.array([np.nan if r[col] is None else r[col] for r in rows])


@pytest.mark.parametrize("scheme, options", [("balanced", {}), ("effective_number", {"beta": 0.99}),
                                             ("inverse", {"normalize": "mean_one"})])
def test_weight_column_equals_local_per_row_weights(spark, scheme, options):
    labels = ["cat"] * 30 + ["dog"] * 7 + ["eel"] * 3
    df = spark.createDataFrame([(i, v) for i, v in enumerate(labels)], ["id", "s"]).repartition(2)
    got_labels, got = _weights_by_row(with_sample_weight(df, "s", scheme=scheme, **options), "s")
    counts = ClassCounts.from_labels(labels)
    w = dict(zip(counts.classes, class_weights(counts, scheme=scheme, **options)))
    np.testing.assert_array_equal(got, [w[c] for c in got_labels])
    assert got_labels == labels


def test_float_bool_labels_and_declared_classes(spark):
    df = spark.createDataFrame([(0, 1.0), (1, 0.0), (2, 1.0), (3, 1.0)], ["id", "y"])
    _, got = _weights_by_row(with_sample_weight(df, "y"), "y")
    np.testing.assert_allclose(got, [4 / 6, 2.0, 4 / 6, 4 / 6])
    df = spark.createDataFrame([(0, True), (1, False), (2, True)], ["id", "b"])
    _, got = _weights_by_row(with_sample_weight(df, "b", col="w"), "b", col="w")
    np.testing.assert_allclose(got, [0.75, 1.5, 0.75])
    df = spark.createDataFrame([(0, 0), (1, 0), (2, 1)], ["id", "y"])
    _, got = _weights_by_row(with_sample_weight(df, "y", classes=[0, 1, 2], zero_count="zero"), "y")
    np.testing.assert_allclose(got, [0.5, 0.5, 1.0])


def test_null_labels_error_or_null_weight(spark):
    df = spark.createDataFrame([(0, 1), (1, None), (2, 0), (3, 1)], "id int, y int")
    with pytest.raises(ValueError, match=r"Column 'y' of the Spark DataFrame has 1 missing label"):
        with_sample_weight(df, "y")
    _, got = _weights_by_row(with_sample_weight(df, "y", null="skip"), "y")
    np.testing.assert_allclose(got, [0.75, np.nan, 1.5, 0.75])
    df = spark.createDataFrame([(0, 1.0), (1, float("nan")), (2, 0.0), (3, 1.0)], ["id", "y"])
    with pytest.raises(ValueError, match="1 missing label"):
        with_sample_weight(df, "y")
    _, got = _weights_by_row(with_sample_weight(df, "y", null="skip"), "y")
    np.testing.assert_allclose(got, [0.75, np.nan, 1.5, 0.75])


def test_bad_input_is_one_line_error(spark):
    df = spark.createDataFrame([(0, 1)], ["id", "y"])
    with pytest.raises(ValueError,
                       match=r"Column 'label' is not in the Spark DataFrame. Columns: id, y\."):
        with_sample_weight(df, "label")
    with pytest.raises(ValueError, match="Column 'id' is already in the Spark DataFrame"):
        with_sample_weight(df, "y", col="id")
    empty = spark.createDataFrame([], "id int, y int")
    with pytest.raises(ValueError, match=r"Column 'y' of the Spark DataFrame has no labelled rows"):
        with_sample_weight(empty, "y")
    lists = spark.createDataFrame([(0, [1, 2])], ["id", "y"])
    with pytest.raises(ValueError, match="one label per row"):
        with_sample_weight(lists, "y")
    with pytest.raises(TypeError, match="takes a Spark DataFrame. Got DataFrame"):
        with_sample_weight(pd.DataFrame({"y": [1]}), "y")
    with pytest.raises(ValueError, match="The 'scheme' parameter"):
        with_sample_weight(df, "y", scheme="nope")
    assert df.columns == ["id", "y"]  # nothing added to the input


def test_mllib_logistic_regression_matches_sklearn_with_the_same_weights(spark, frame, data):
    """MLlib's weighted logistic regression and scikit-learn's (no penalty: C=inf), same weights."""
    from pyspark.ml.classification import LogisticRegression
    from pyspark.ml.feature import VectorAssembler
    from sklearn.linear_model import LogisticRegression as SkLogisticRegression

    X, y = data
    weighted = with_sample_weight(frame, "y")
    train = VectorAssembler(inputCols=["x0", "x1", "x2"], outputCol="features").transform(weighted)
    mllib = LogisticRegression(featuresCol="features", labelCol="y", weightCol="weight", regParam=0.0,
                               standardization=False, fitIntercept=True, maxIter=500, tol=1e-12)
    model = mllib.fit(train)

    sw = class_weights(y, scheme="balanced")[y]
    sk = SkLogisticRegression(C=np.inf, solver="newton-cholesky", tol=1e-12, max_iter=500)
    sk.fit(X, y, sample_weight=sw)
    got = np.r_[model.coefficients.toArray(), model.intercept]
    want = np.r_[sk.coef_.ravel(), sk.intercept_]
    print(f"MLlib vs scikit-learn max |difference|: {np.abs(got - want).max():.2e}")
    np.testing.assert_allclose(got, want, rtol=0, atol=1e-4)
    # the weights matter: without them the intercept is far away
    plain = SkLogisticRegression(C=np.inf, solver="newton-cholesky").fit(X, y)
    assert abs(plain.intercept_[0] - model.intercept) > 0.5


def test_tree_ensembles_accept_the_weight_column(spark, frame):
    from pyspark.ml.classification import GBTClassifier, RandomForestClassifier
    from pyspark.ml.feature import VectorAssembler

    train = VectorAssembler(inputCols=["x0", "x1", "x2"], outputCol="features").transform(
        with_sample_weight(frame, "y", normalize="mean_one"))
    for estimator in (RandomForestClassifier(numTrees=3, maxDepth=2, seed=0),
                      GBTClassifier(maxIter=3, maxDepth=2, seed=0)):
        estimator.setParams(featuresCol="features", labelCol="y", weightCol="weight")
        model = estimator.fit(train)
        assert model.numFeatures == 3


def test_stopped_session_is_refused_at_once(spark, tmp_path):
    """Runs last: it stops the module's session."""
    import pyarrow as pa
    import pyarrow.parquet as pq

    path = tmp_path / "y.parquet"
    pq.write_table(pa.table({"y": [0, 1, 1]}), path)
    df = spark.createDataFrame([(0, 1)], ["id", "y"])
    spark.stop()
    for call in (lambda: with_sample_weight(df, "y"), lambda: class_counts(df, "y")):
        with pytest.raises(RuntimeError, match="The SparkSession of the Spark DataFrame is stopped"):
            call()
    with pytest.raises(RuntimeError, match="The SparkSession of spark= is stopped"):
        count_file(path, "y", spark=spark)
