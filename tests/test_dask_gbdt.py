"""wce's boosting objectives in distributed training on a Dask cluster.

One ``LocalCluster`` (2 workers, 1 thread each, in-process) for the module. The
features take few distinct values, so every worker's quantile sketch finds the
same bins and distributed training must give the single-process model.
"""

from __future__ import annotations

import numpy as np
import pytest

da = pytest.importorskip("dask.array")
dd = pytest.importorskip("dask.dataframe")
pd = pytest.importorskip("pandas")
distributed = pytest.importorskip("distributed")
xgb = pytest.importorskip("xgboost")
lgb = pytest.importorskip("lightgbm")

import xgboost.dask  # noqa: E402,F401

from wce.gbdt.dask import base_margin, init_score  # noqa: E402
from wce.lightgbm import LGBMObjective  # noqa: E402
from wce.weights import class_weights  # noqa: E402
from wce.weights.dask import with_sample_weight  # noqa: E402
from wce.xgboost import XGBObjective  # noqa: E402

N, CHUNK = 1200, 300
ROUNDS = 15


@pytest.fixture(scope="module")
def client():
    cluster = distributed.LocalCluster(n_workers=2, threads_per_worker=1, processes=False,
                                       dashboard_address=None)
    with distributed.Client(cluster) as c:
        yield c
    cluster.close()


@pytest.fixture(scope="module")
def data():
    rng = np.random.default_rng(5)
    X = np.clip(np.round(rng.normal(size=(N, 4)) * 2), -4, 4)  # 9 distinct values per feature
    score = X[:, 0] + 0.5 * X[:, 1] + rng.normal(size=N)
    y2 = (score > 2.5).astype(np.int64)  # about 12% positives
    y3 = np.digitize(score, [1.0, 3.0])  # 3 imbalanced classes
    return X, y2, y3


PARAMS = {"tree_method": "hist", "max_depth": 3, "eta": 0.3, "seed": 0, "nthread": 1,
          "disable_default_eval_metric": True}


def _xgb_both(client, X, y, obj, weight=None):
    dy = da.from_array(y, chunks=CHUNK)
    dw = None if weight is None else da.from_array(weight, chunks=CHUNK)
    params = {**PARAMS, "base_score": base_margin(obj, dy, dw)}
    if obj.multiclass:
        params["num_class"] = int(y.max()) + 1
    local = xgb.train(params, xgb.DMatrix(X, label=y, weight=weight), ROUNDS, obj=obj)
    dtrain = xgb.dask.DaskDMatrix(client, da.from_array(X, chunks=(CHUNK, 4)), dy, weight=dw)
    booster = xgb.dask.train(client, params, dtrain, ROUNDS, obj=obj)["booster"]
    full = xgb.DMatrix(X)
    return local.predict(full, output_margin=True), booster.predict(full, output_margin=True)


@pytest.mark.parametrize("make", [lambda y: XGBObjective.binary(pos_weight=7.0),
                                  lambda y: XGBObjective.focal_binary(gamma=2.0, alpha=0.8),
                                  lambda y: XGBObjective.multiclass(class_weight=class_weights(y))],
                         ids=["binary", "focal", "multiclass"])
def test_xgboost_dask_train_with_wce_objective_equals_single_process(client, data, make):
    X, y2, y3 = data
    obj = make(y3)
    y = y3 if obj.multiclass else y2
    single, distributed_ = _xgb_both(client, X, y, obj)
    diff = np.abs(single - distributed_).max()
    print(f"xgboost.dask vs xgb.train ({obj!r}): max |margin difference| {diff:.2e}")
    assert diff <= 1e-5
    assert np.ptp(single) > 1.0  # the model learned something


def test_worker_processes_get_a_pickled_objective_and_the_same_model(data):
    """Worker processes (the usual cluster): each unpickles its own copy of the objective."""
    X, y2, _ = data
    obj = XGBObjective.binary(pos_weight=7.0)
    with distributed.LocalCluster(n_workers=2, threads_per_worker=1, processes=True,
                                  dashboard_address=None, worker_dashboard_address=None
                                  ) as cluster, distributed.Client(cluster) as c:
        single, distributed_ = _xgb_both(c, X, y2, obj)
    diff = np.abs(single - distributed_).max()
    print(f"xgboost.dask with worker processes vs xgb.train: {diff:.2e}")
    assert diff <= 1e-5


def test_per_row_weights_from_a_dask_frame_train_the_same_model(client, data):
    """count -> weights -> train: with_sample_weight's column as the DaskDMatrix weight."""
    X, y2, _ = data
    frame = pd.DataFrame(X, columns=[f"x{j}" for j in range(4)]).assign(y=y2)
    ddf = with_sample_weight(dd.from_pandas(frame, npartitions=4), "y", scheme="balanced")
    features = ddf[[f"x{j}" for j in range(4)]]
    obj = XGBObjective.binary()
    params = {**PARAMS, "base_score": base_margin(obj, ddf["y"], ddf["weight"])}
    dtrain = xgb.dask.DaskDMatrix(client, features, ddf["y"], weight=ddf["weight"])
    booster = xgb.dask.train(client, params, dtrain, ROUNDS, obj=obj)["booster"]
    weight = class_weights(y2)[y2]
    assert params["base_score"] == pytest.approx(obj.base_margin(y2, weight), abs=1e-12)
    local_x = frame.drop(columns="y")
    local = xgb.train(params, xgb.DMatrix(local_x, label=y2, weight=weight), ROUNDS, obj=obj)
    diff = np.abs(local.predict(xgb.DMatrix(local_x), output_margin=True)
                  - booster.predict(xgb.DMatrix(local_x), output_margin=True)).max()
    print(f"weights from with_sample_weight, xgboost.dask vs xgb.train: {diff:.2e}")
    assert diff <= 1e-5


def test_base_margin_equals_the_local_one(data):
    X, y2, y3 = data
    w = np.random.default_rng(0).uniform(0.5, 2.0, size=N)
    dy2, dy3, dw = (da.from_array(a, chunks=CHUNK) for a in (y2, y3, w))
    costs = [[0, 1, 4], [1, 0, 1], [2, 1, 0]]
    for obj, y, dy in [(XGBObjective.binary(pos_weight=3.0), y2, dy2),
                       (LGBMObjective.focal_binary(gamma=2.0), y2, dy2),
                       (XGBObjective.cost_sensitive(cost_matrix=costs), y3, dy3)]:
        # cross-entropy's start is closed-form; focal and cost-sensitive ones are found by
        # BFGS, whose path moves with the last bits of the class totals (summed per block)
        atol = 1e-12 if obj.loss == "cross_entropy" else 1e-7
        np.testing.assert_allclose(base_margin(obj, dy, dw, scheduler="synchronous"),
                                   obj.base_margin(y, w), rtol=0, atol=atol)
    score = init_score(LGBMObjective.multiclass(), dy3, scheduler="synchronous")
    score = score.compute(scheduler="synchronous")
    assert score.shape == (N, 3)
    np.testing.assert_allclose(score[0], LGBMObjective.multiclass().base_margin(y3))


def test_base_margin_bad_input_names_the_block(data):
    _, y2, _ = data
    bad = y2.astype(float)
    bad[CHUNK + 3] = 0.5
    with pytest.raises(ValueError, match=r"Block 1 of the labels: The labels of .* must be integer"):
        base_margin(XGBObjective.binary(), da.from_array(bad, chunks=CHUNK), scheduler="synchronous")
    with pytest.raises(ValueError, match="The labels have 4 blocks .* and the sample weights 2"):
        base_margin(XGBObjective.binary(), da.from_array(y2, chunks=CHUNK),
                    da.from_array(np.ones(N), chunks=N // 2), scheduler="synchronous")
    with pytest.raises(TypeError, match="as a Dask array or Series. Got ndarray"):
        base_margin(XGBObjective.binary(), y2)
    with pytest.raises(ConnectionError, match=r"Cannot reach the Dask scheduler at "
                                              r"'tcp://127\.0\.0\.1:9' within 1 s"):
        base_margin(XGBObjective.binary(), da.from_array(y2, chunks=CHUNK),
                    scheduler="tcp://127.0.0.1:9", timeout=1)


@pytest.mark.filterwarnings("ignore:Parameter n_jobs will be ignored")
def test_lightgbm_dask_classifier_with_wce_objective_equals_single_process(client, data):
    """LightGBM's Dask estimator takes a callable objective; its workers talk over local ports.

    With LightGBM's default min_child_samples=20 its data-parallel trees differ from
    the single-process ones (for its built-in objective too: 0.33 in the raw scores
    here), so the comparison uses min_child_samples=1.
    """
    X, y2, _ = data
    obj = LGBMObjective.binary(pos_weight=7.0)
    dX, dy = da.from_array(X, chunks=(CHUNK, 4)), da.from_array(y2, chunks=CHUNK)
    base = base_margin(obj, dy)
    common = dict(objective=obj, n_estimators=ROUNDS, num_leaves=8, min_child_samples=1,
                  deterministic=True, force_row_wise=True, verbose=-1)
    try:
        model = lgb.DaskLGBMClassifier(client=client, tree_learner="data", **common).fit(
            dX, dy, init_score=init_score(obj, dy, base=base))
    except lgb.basic.LightGBMError as exc:  # pragma: no cover - depends on the sandbox's network
        pytest.skip(f"LightGBM's Dask training could not connect its workers here: {exc}")
    local = lgb.LGBMClassifier(**common).fit(X, y2, init_score=np.full(N, base))
    got = model.to_local().predict(X, raw_score=True) + base
    want = local.predict(X, raw_score=True) + base
    diff = np.abs(got - want).max()
    print(f"DaskLGBMClassifier vs LGBMClassifier (wce objective): max |raw score difference| {diff:.2e}")
    assert diff <= 1e-5
