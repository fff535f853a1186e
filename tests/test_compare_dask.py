"""`wce compare --engine dask`: the units run on a Dask cluster, the client writes each unit file as
it arrives (resumable, Ctrl-C keeps finished units), and the results equal `--jobs 1` exactly.

One in-process ``LocalCluster`` (2 workers, 1 thread each, TCP so that the command line can reach
it by address) for the module; one test starts the default cluster of worker processes.
"""

from __future__ import annotations

import json
import os
import signal
import subprocess
import sys
import time
from pathlib import Path

import numpy as np
import pytest

distributed = pytest.importorskip("distributed")

import wce  # noqa: E402
from wce.cli import main  # noqa: E402
from wce.experiments import runner  # noqa: E402
from wce.experiments.runner import Config, collect, execute, validate  # noqa: E402

DATA = ["make_classification:n_samples=240,n_features=5,n_informative=3,weights=0.88,seed=1",
        "make_classification:n_samples=200,n_features=4,n_informative=2,weights=0.85,seed=2"]
METHODS = ["ce", "ce+threshold", "wce-balanced", "smote"]
FAST = ["--methods", ",".join(METHODS), "--folds", "3", "--repeats", "1", "--no-progress"]

# `wce compare` as a terminal starts it: pytest-xdist workers ignore SIGINT and a child inherits
# that through exec (Python then never raises KeyboardInterrupt), so the child restores Ctrl-C.
WCE_WITH_CTRL_C = ("import signal, sys; signal.signal(signal.SIGINT, signal.default_int_handler); "
                   "from wce.cli import main; sys.exit(main(sys.argv[1:]))")


@pytest.fixture(scope="module")
def cluster():
    with distributed.LocalCluster(n_workers=2, threads_per_worker=1, processes=False, protocol="tcp",
                                  dashboard_address=":0") as cluster:
        yield cluster


@pytest.fixture(scope="module")
def client(cluster):
    with distributed.Client(cluster, set_as_default=False) as client:
        yield client


def _run(out, **engine):
    plan = validate(Config(datasets=list(DATA), methods=list(METHODS), folds=3, repeats=1, out=str(out), **engine))
    return plan, collect(plan, execute(plan, progress=False))


@pytest.fixture(scope="module")
def local_units(tmp_path_factory):
    return _run(tmp_path_factory.mktemp("local") / "R")[1]


def _same(a, b):
    """Every per-fold result equal, number for number (the timing aside)."""
    assert len(a) == len(b)
    for u, v in zip(a, b):
        assert u.keys() == v.keys()
        for k in u:
            if k != "seconds":
                _close(u[k], v[k], k)


def _close(x, y, where):
    if isinstance(x, dict):
        assert x.keys() == y.keys(), where
        for k in x:
            _close(x[k], y[k], f"{where}.{k}")
    elif isinstance(x, (list, tuple, np.ndarray)) or isinstance(x, float):
        np.testing.assert_allclose(np.asarray(x, dtype=float), np.asarray(y, dtype=float), rtol=0, atol=1e-12,
                                   err_msg=where)
    else:
        assert x == y, where


def test_a_client_gives_the_results_of_one_process(tmp_path, client, local_units):
    plan, units = _run(tmp_path / "R", engine="dask", scheduler=client)
    _same(units, local_units)
    files = list((tmp_path / "R" / "units").rglob("r0-f*.json"))
    assert len(files) == plan.n_units == len(DATA) * len(METHODS) * 3  # written by the client


def test_the_command_at_an_address_writes_units_and_resumes(tmp_path, cluster, capsys, local_units):
    out = tmp_path / "R"
    args = ["compare", *DATA, *FAST, "--engine", "dask", "--scheduler", cluster.scheduler_address,
            "--out", str(out)]
    assert main(args) == 0
    files = sorted((out / "units").rglob("r0-f*.json"))
    assert len(files) == len(local_units)
    for f in files[::5]:
        f.unlink()
    capsys.readouterr()
    assert main(args) == 0
    assert f"reused {len(files) - len(files[::5])} of {len(files)} finished units" in capsys.readouterr().out
    plan = validate(Config(datasets=list(DATA), methods=list(METHODS), folds=3, repeats=1, out=str(out)))
    _same(collect(plan, execute(plan, progress=False)), local_units)  # all on disk now: nothing computed


def test_an_interrupted_run_keeps_finished_units(tmp_path, client, monkeypatch, local_units):
    written = []
    real = runner.write_json_atomic

    def write(path, data):
        if len(written) == 3:
            raise KeyboardInterrupt
        written.append(path)
        real(path, data)

    monkeypatch.setattr(runner, "write_json_atomic", write)
    with pytest.raises(KeyboardInterrupt):
        _run(tmp_path / "R", engine="dask", scheduler=client)
    monkeypatch.undo()
    assert len(list((tmp_path / "R" / "units").rglob("r0-f*.json"))) == 3
    plan, units = _run(tmp_path / "R", engine="dask", scheduler=client)
    assert plan.reused == 3
    _same(units, local_units)
    # The cancelled units left nothing behind on the cluster.
    deadline = time.time() + 10
    while client.run_on_scheduler(lambda dask_scheduler: len(dask_scheduler.tasks)) and time.time() < deadline:
        time.sleep(0.1)
    assert client.run_on_scheduler(lambda dask_scheduler: len(dask_scheduler.tasks)) == 0


def test_the_python_api_takes_engine_and_scheduler(client):
    rng = np.random.default_rng(0)
    y = (np.arange(150) % 7 == 0).astype(int)
    X = rng.normal(size=(150, 4)) + y[:, None]
    here = wce.compare(X, y, methods="ce,wce-balanced", folds=3, repeats=1)
    there = wce.compare(X, y, methods="ce,wce-balanced", folds=3, repeats=1, engine="dask", scheduler=client)
    cols = [c for c in here.folds.columns if c != "seconds"]
    assert here.folds[cols].equals(there.folds[cols])
    assert here.recommendation["method"] == there.recommendation["method"]


def test_the_default_cluster_of_worker_processes(tmp_path, local_units):
    plan, units = _run(tmp_path / "R", engine="dask", jobs=2)  # a LocalCluster of 2 processes
    _same(units, local_units)


def test_an_unreachable_scheduler_is_one_line_not_a_hang(tmp_path, capsys):
    start = time.time()
    code = main(["compare", DATA[0], *FAST, "--engine", "dask", "--scheduler", "tcp://127.0.0.1:9",
                 "--scheduler-timeout", "1", "--out", str(tmp_path / "R")])
    err = capsys.readouterr().err
    assert code == 2 and time.time() - start < 30
    assert err.count("\n") == 1 and err.startswith(
        "wce compare: error: Cannot reach the Dask scheduler at 'tcp://127.0.0.1:9' within 1 s"), err
    with pytest.raises(ConnectionError, match="Cannot reach the Dask scheduler"):
        wce.compare(DATA[0], methods="ce", folds=3, repeats=1, engine="dask", scheduler="tcp://127.0.0.1:9",
                    scheduler_timeout=1)


@pytest.mark.parametrize("extra, message", [
    (["--scheduler", "tcp://127.0.0.1:9"], "a scheduler is for engine 'dask' (--engine dask)."),
    (["--engine", "dask", "--scheduler-timeout", "0"], "scheduler timeout must be a positive number"),
    (["--engine", "dask", "--scheduler-timeout", "nan"], "scheduler timeout must be a positive number"),
])
def test_bad_options_are_one_line_before_anything_is_written(tmp_path, capsys, extra, message):
    assert main(["compare", DATA[0], *FAST, *extra, "--out", str(tmp_path / "R")]) == 2
    err = capsys.readouterr().err
    assert err.count("\n") == 1 and message in err, err
    assert not (tmp_path / "R").exists()


def test_without_distributed_the_error_names_the_extra(tmp_path, capsys, monkeypatch):
    monkeypatch.setitem(sys.modules, "distributed", None)  # import distributed -> ImportError
    assert main(["compare", DATA[0], *FAST, "--engine", "dask", "--out", str(tmp_path / "R")]) == 2
    err = capsys.readouterr().err
    assert err.count("\n") == 1 and "pip install 'wce[dask]'" in err, err
    assert not (tmp_path / "R").exists()
    with pytest.raises(ImportError, match=r"pip install 'wce\[dask\]'"):
        wce.compare(DATA[0], methods="ce", folds=3, repeats=1, engine="dask")


SLOW = "make_classification:n_samples=20000,n_features=40,n_informative=10,weights=0.9,seed=0"


def test_ctrl_c_from_a_terminal_keeps_finished_units_and_stops_the_workers(tmp_path):
    psutil = pytest.importorskip("psutil")
    out = tmp_path / "R"
    cmd = [sys.executable, "-c", WCE_WITH_CTRL_C, "compare", SLOW, "--folds", "5", "--repeats", "2", "--jobs", "2",
           "--engine", "dask", "--out", str(out), "--no-progress"]
    proc = subprocess.Popen(cmd, stdout=subprocess.PIPE, stderr=subprocess.PIPE, text=True,
                            env={**os.environ, "OMP_NUM_THREADS": "1"}, start_new_session=True)
    deadline = time.time() + 120
    while time.time() < deadline and proc.poll() is None and not list(out.glob("units/*/*/*/*.json")):
        time.sleep(0.1)
    children = psutil.Process(proc.pid).children(recursive=True)
    assert proc.poll() is None and len(children) >= 2, "the run did not start its workers"
    start = time.time()
    os.killpg(proc.pid, signal.SIGINT)  # a terminal sends SIGINT to the whole process group
    _, err = proc.communicate(timeout=60)
    assert proc.returncode == 130 and time.time() - start < 15, (proc.returncode, err)
    assert err.strip() == "wce compare: interrupted; finished results are kept.", err
    _, alive = psutil.wait_procs(children, timeout=10)
    for p in alive:
        p.kill()
    assert not alive, f"workers still running: {alive}"
    kept = list(out.glob("units/*/*/*/*.json"))
    assert kept and all(json.loads(Path(p).read_text())["metrics"] for p in kept)
