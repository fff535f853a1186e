"""wce longtail: long-tailed splits, methods, metrics, report and CLI."""

from __future__ import annotations

import os

import numpy as np
import pytest

pytest.importorskip("torch")
pd = pytest.importorskip("pandas")

import torch  # noqa: E402

from wce.cli import build_parser, main  # noqa: E402
from wce.experiments import longtail as lt  # noqa: E402
from wce.experiments.methods import (LONG_TAIL_METHODS, METHODS, get_method,  # noqa: E402
                                     weights_from_counts)


@pytest.mark.parametrize("n_max, C, ir", [(500, 10, 100.0), (120, 26, 10.0), (7, 6, 100.0),
                                          (50, 4, 1.0)])
def test_profile_follows_cui_exponential(n_max, C, ir):
    counts = lt.long_tail_profile(n_max, C, ir)
    assert counts[0] == n_max
    assert np.all(np.diff(counts) <= 0)
    expected = np.maximum(np.floor(n_max * ir ** (-np.arange(C) / (C - 1)) + 1e-9), 1)
    np.testing.assert_array_equal(counts, expected)
    assert counts[-1] == max(int(np.floor(n_max / ir + 1e-9)), 1)


def test_trap16_split_first_balanced_test_and_no_leakage():
    """TRAPS 16: the test set is drawn before subsampling and never overlaps training."""
    rng = np.random.default_rng(0)
    y = rng.permutation(np.repeat(np.arange(5), rng.integers(60, 90, size=5)))
    tests = []
    for ir in (10.0, 100.0):
        train, test, counts = lt.long_tailed_split(y, ir, test_fraction=0.3, seed=3)
        assert not set(train) & set(test)
        per_class_test = np.bincount(y[test], minlength=5)
        assert len(set(per_class_test)) == 1  # balanced
        assert per_class_test[0] == int(0.3 * np.bincount(y).min())
        np.testing.assert_array_equal(np.bincount(y[train], minlength=5), counts)
        np.testing.assert_array_equal(
            counts, lt.long_tail_profile(int(np.bincount(y).min()) - per_class_test[0], 5, ir))
        tests.append(np.sort(test))
    # Same seed, different IR: the same test set (the split happens before subsampling).
    np.testing.assert_array_equal(tests[0], tests[1])


def test_shot_groups_are_thirds_in_profile_order():
    groups = lt.shot_groups(10)
    assert groups.tolist() == ["many"] * 4 + ["medium"] * 3 + ["few"] * 3
    assert [list(lt.shot_groups(26)).count(g) for g in lt.SHOTS] == [9, 9, 8]


def test_evaluate_matches_sklearn():
    from sklearn.metrics import balanced_accuracy_score, recall_score

    rng = np.random.default_rng(1)
    y = np.repeat(np.arange(6), 20)
    pred = np.where(rng.random(120) < 0.7, y, rng.integers(0, 6, 120))
    scores = lt.evaluate(y, pred, 6)
    np.testing.assert_allclose(scores["recall"], recall_score(y, pred, average=None))
    assert scores["error"] == pytest.approx(1 - balanced_accuracy_score(y, pred))
    assert scores["few_accuracy"] == pytest.approx(scores["recall"][4:].mean())


def test_reference_bridge_matches_torch_autograd():
    """The adapter's reference-backed loss has torch's value and gradient for weighted CE."""
    bridge = lt._reference_loss("weighted_cross_entropy")
    z = torch.randn(8, 4, dtype=torch.float64, requires_grad=True)
    y = torch.randint(0, 4, (8,))
    w = np.array([0.5, 1.0, 2.0, 4.0])
    ours = bridge(z, y, class_weight=w)
    (g_ours,) = torch.autograd.grad(ours, z)
    native = torch.nn.functional.cross_entropy(z, y, weight=torch.tensor(w))
    (g_native,) = torch.autograd.grad(native, z)
    assert ours.item() == pytest.approx(native.item(), rel=1e-12)
    torch.testing.assert_close(g_ours, g_native)


@pytest.mark.parametrize("method", LONG_TAIL_METHODS)
def test_every_method_gives_a_finite_loss_and_gradient(method):
    config = lt.LongTailConfig(epochs=10)
    counts = np.array([40, 12, 4, 1])
    loss = METHODS[method].multiclass_loss(counts, config, lt.torch_losses())
    z = torch.randn(16, 4, requires_grad=True)
    y = torch.randint(0, 4, (16,))
    value = loss(z, y, 0)
    (grad,) = torch.autograd.grad(value, z)
    assert torch.isfinite(value) and torch.all(torch.isfinite(grad)) and torch.any(grad != 0)


def test_ldam_drw_switches_to_class_balanced_weights():
    config = lt.LongTailConfig(epochs=10, drw_fraction=0.8)
    counts = np.array([40, 12, 4, 1])
    losses = lt.torch_losses()
    loss = METHODS["ldam_drw"].multiclass_loss(counts, config, losses)
    z, y = torch.randn(16, 4), torch.arange(16) % 4
    plain = losses["ldam_loss"](z, y, samples_per_class=counts)
    weighted = losses["ldam_loss"](z, y, samples_per_class=counts,
                                   class_weight=weights_from_counts(
                                       counts, scheme="effective_number",
                                       beta=config.beta_drw, normalize="sum_to_k"))
    assert loss(z, y, 7).item() == pytest.approx(plain.item())
    assert loss(z, y, 8).item() == pytest.approx(weighted.item())
    assert plain.item() != pytest.approx(weighted.item())


def test_check_claims_counts_agreement():
    rows = []
    for d, ce, inv in [("a", 0.30, 0.25), ("b", 0.20, 0.22), ("c", 0.40, 0.10)]:
        rows += [{"dataset": d, "imbalance_ratio": 100.0, "method": "ce", "error": ce},
                 {"dataset": d, "imbalance_ratio": 100.0, "method": "wce-balanced",
                  "error": inv}]
    claims = {c["worse"]: c for c in lt.check_claims(pd.DataFrame(rows))}
    claim = claims["wce-balanced"]  # "inverse-frequency weighting is worse than CE"
    assert (claim["agree"], claim["settings"]) == (1, 3)
    assert claim["disagree_in"] == ["a IR=100", "c IR=100"]


def test_cli_tiny_run_writes_the_report(tmp_path, capsys):
    out = str(tmp_path / "lt")
    rc = main(["longtail", "--quick", "--datasets", "digits", "--imbalance-ratios", "100",
               "--epochs", "2", "--out", out, "--no-progress"])
    assert rc == 0
    for name in ("report.md", "results.csv", "per_class.csv", "error.png", "shots.png",
                 "run.json"):
        assert os.path.getsize(os.path.join(out, name)) > 0
    results = pd.read_csv(os.path.join(out, "results.csv"))
    assert sorted(results.method) == sorted(LONG_TAIL_METHODS)
    assert {"cpu", "threads", "torch", "error", "many_accuracy", "few_accuracy"} <= set(results)
    per_class = pd.read_csv(os.path.join(out, "per_class.csv"))
    assert len(per_class) == len(LONG_TAIL_METHODS) * 10
    report = open(os.path.join(out, "report.md")).read()
    for heading in ("## Protocol", "## Results", "## Published results", "## Ordering",
                    "## Where we agree and where not"):
        assert heading in report
    assert "29.64" in report and "Cui et al." in report
    assert "## Per-class recall at IR = 100" in report
    # --report-only rebuilds the same report from the CSVs.
    os.remove(os.path.join(out, "report.md"))
    assert main(["longtail", "--report-only", "--out", out]) == 0
    assert open(os.path.join(out, "report.md")).read() == report


def test_report_only_without_a_run_is_a_user_error(tmp_path, capsys):
    assert main(["longtail", "--report-only", "--out", str(tmp_path)]) == 2
    assert "no finished run in" in capsys.readouterr().err


@pytest.mark.parametrize("argv, match", [
    (["--datasets", "cifar"], "unknown data set"),
    (["--imbalance-ratios", "0.5"], r"'imbalance_ratio' parameter of wce longtail"),
    (["--imbalance-ratios", "ten"], "--imbalance-ratios takes numbers"),
    (["--methods", "ce,mixup"], r"Unknown method 'mixup'\. Known: ce, wce-balanced,"),
    (["--methods", "ce,smote"], r"Method 'smote' does not run in wce longtail \(it runs in wce compare\)"),
    (["--seeds", "0"], r"'seeds' parameter of wce longtail must be an int >= 1"),
])
def test_cli_user_errors_are_one_line_exit_2(argv, match, capsys, tmp_path):
    rc = main(["longtail", "--out", str(tmp_path), *argv])
    err = capsys.readouterr().err.strip()
    assert rc == 2
    assert len(err.splitlines()) == 1
    assert err.startswith("wce longtail: error:")
    import re

    assert re.search(match, err)


@pytest.mark.parametrize("method", ["wce-balanced", "class_balanced_focal", "focal", "logit_adjusted"])
def test_wce_torch_and_reference_sources_agree(method):
    """The methods give the same loss and gradient through wce.torch and through the reference."""
    counts = np.array([40, 12, 4, 1])
    config = lt.LongTailConfig()
    z = torch.randn(16, 4, dtype=torch.float64, requires_grad=True)
    y = torch.arange(16) % 4
    values, grads = [], []
    for source in ("wce.torch", "reference"):
        value = METHODS[method].multiclass_loss(counts, config, lt.torch_losses(source))(z, y, 0)
        values.append(value.item())
        grads.append(torch.autograd.grad(value, z)[0])
    assert values[0] == pytest.approx(values[1], rel=1e-10)
    torch.testing.assert_close(grads[0], grads[1])


def test_old_method_names_are_aliases_of_the_shared_registry():
    """wce longtail and wce compare name a method the same way; the old longtail names still parse."""
    config = lt.LongTailConfig(methods=("inverse_frequency", "cb_ce", "cb_focal", "posthoc_la", "ce")).validate()
    assert config.methods == ("wce-balanced", "class_balanced", "class_balanced_focal",
                              "posthoc_logit_adjusted", "ce")
    assert get_method("inverse_frequency", command="wce longtail") is get_method("wce-balanced")
    assert set(lt.LongTailConfig().methods) == set(LONG_TAIL_METHODS)
    with pytest.raises(ValueError, match="Method 'ldam_drw' does not run in wce compare"):
        get_method("ldam_drw")


def test_wce_balanced_multiclass_weights_are_n_over_c_n_c():
    counts = np.array([40, 12, 4, 1])
    losses = {"weighted_cross_entropy": lambda z, y, class_weight=None: class_weight}
    weights = METHODS["wce-balanced"].multiclass_loss(counts, lt.LongTailConfig(), losses)(None, None, 0)
    np.testing.assert_allclose(weights, counts.sum() / (4 * counts))


def test_mean_ranks_per_imbalance_ratio_against_pandas_ranks():
    rng = np.random.default_rng(2)
    rows = [{"dataset": d, "imbalance_ratio": ir, "method": m, "seed": s, "error": float(e)}
            for d in "abcd" for ir in (10.0, 100.0) for m in ("ce", "focal", "ldam_drw")
            for s, e in enumerate(rng.choice([0.1, 0.2, 0.3], size=2))]
    results = pd.DataFrame(rows)
    ranks = lt.mean_ranks(results)
    means = results.groupby(["imbalance_ratio", "dataset", "method"])["error"].mean()
    expected = means.groupby(level=[0, 1]).rank(method="average").groupby(level=[0, 2]).mean().unstack(0)
    pd.testing.assert_frame_equal(ranks.sort_index(), expected.sort_index(), check_names=False)
    assert ranks.sum().tolist() == [6.0, 6.0]  # ranks of 3 methods sum to 6 on every data set


def test_default_output_folder_is_fresh_in_the_current_directory():
    """A run inside a clone must not overwrite the committed reports/longtail."""
    assert build_parser().parse_args(["longtail"]).out == "wce-longtail"
