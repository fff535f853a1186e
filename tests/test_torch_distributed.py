"""TRAPS 9: the global weighted mean under data parallelism and gradient accumulation.

Two gloo processes on CPU (spawned, a free port on 127.0.0.1) train a DDP
model on halves of a batch of unequal sizes with ``reduction="global"``; their
gradients must equal the single-process full-batch gradient of ``"weighted_mean"``.
"""

from __future__ import annotations

import os
import socket
import time

import pytest

torch = pytest.importorskip("torch")
import torch.distributed as dist  # noqa: E402
import torch.multiprocessing as mp  # noqa: E402
from torch import nn  # noqa: E402

import wce.torch as wt  # noqa: E402

if not dist.is_available():  # pragma: no cover
    pytest.skip("torch.distributed is not available", allow_module_level=True)

CLASS_WEIGHT = torch.tensor([0.2, 1.0, 5.0, 2.5])
SPLIT = 10  # rank 0 gets rows [0, 10), rank 1 rows [10, 16): unequal, with different Σ w


def _data():
    g = torch.Generator().manual_seed(0)
    x = torch.randn(16, 5, generator=g)
    y = torch.tensor([0, 0, 0, 1, 0, 0, 2, 0, -1, 0, 3, 2, -1, 1, 0, 0])  # -1 ignored
    yb = torch.randint(0, 2, (16, 3), generator=g).float()
    return x, y, yb


def _models():
    torch.manual_seed(0)
    return nn.Linear(5, 4), nn.Linear(5, 3)


def _criteria(reduction):
    return (wt.WeightedCrossEntropyLoss(class_weight=CLASS_WEIGHT, ignore_index=-1,
                                        label_smoothing=0.1, reduction=reduction),
            wt.BinaryCrossEntropyLoss(pos_weight=torch.tensor([3.0, 1.0, 0.5]),
                                      reduction=reduction))


def _grads(*models):
    return [p.grad.detach().clone() for m in models for p in m.parameters()]


def _full_batch_reference():
    """Single process, whole batch, the weighted mean: the gradient every scheme must equal."""
    x, y, yb = _data()
    head, bhead = _models()
    ce, bce = _criteria("weighted_mean")
    loss = ce(head(x), y) + bce(bhead(x), yb)
    loss.backward()
    return loss.detach(), _grads(head, bhead)


def _worker(rank, world, port, out_dir):
    dist.init_process_group("gloo", init_method=f"tcp://127.0.0.1:{port}", rank=rank,
                            world_size=world)
    try:
        x, y, yb = _data()
        rows = slice(0, SPLIT) if rank == 0 else slice(SPLIT, None)
        x, y, yb = x[rows], y[rows], yb[rows]
        ce, bce = _criteria("global")
        results = {}

        # 1. One step: each rank its shard, DDP averages gradients.
        head, bhead = _models()
        ddp, bddp = nn.parallel.DistributedDataParallel(head), nn.parallel.DistributedDataParallel(bhead)
        loss = ce(ddp(x), y) + bce(bddp(x), yb)
        loss.backward()
        results["ddp"] = _grads(head, bhead)
        value = loss.detach().clone()
        dist.all_reduce(value)
        results["loss_avg_over_ranks"] = value / world

        # 2. Gradient accumulation inside DDP: two micro-batches per rank, one global denominator.
        head, bhead = _models()
        ddp, bddp = nn.parallel.DistributedDataParallel(head), nn.parallel.DistributedDataParallel(bhead)
        half = x.shape[0] // 2
        micro = [(x[:half], y[:half], yb[:half]), (x[half:], y[half:], yb[half:])]
        den = ce.total_weight([m[1] for m in micro])
        bden = bce.total_weight([m[2] for m in micro])
        for i, (mx, my, myb) in enumerate(micro):
            last = i == len(micro) - 1
            with (ddp.no_sync() if not last else _nullcontext()), \
                 (bddp.no_sync() if not last else _nullcontext()):
                (ce(ddp(mx), my, denominator=den) + bce(bddp(mx), myb, denominator=bden)).backward()
        results["ddp_accumulated"] = _grads(head, bhead)

        # 3. The trap: per-rank weighted means, averaged by DDP.
        head, bhead = _models()
        ddp, bddp = nn.parallel.DistributedDataParallel(head), nn.parallel.DistributedDataParallel(bhead)
        mean_ce, mean_bce = _criteria("weighted_mean")
        (mean_ce(ddp(x), y) + mean_bce(bddp(x), yb)).backward()
        results["per_rank_mean"] = _grads(head, bhead)
        torch.save(results, os.path.join(out_dir, f"rank{rank}.pt"))
    finally:
        dist.destroy_process_group()


class _nullcontext:
    def __enter__(self):
        return None

    def __exit__(self, *exc):
        return False


def _free_port():
    with socket.socket(socket.AF_INET, socket.SOCK_STREAM) as s:
        s.bind(("127.0.0.1", 0))
        return s.getsockname()[1]


@pytest.fixture(scope="module")
def two_rank_results(tmp_path_factory):
    out_dir = str(tmp_path_factory.mktemp("ddp"))
    context = mp.spawn(_worker, args=(2, _free_port(), out_dir), nprocs=2, join=False)
    deadline = time.monotonic() + 120
    while not context.join(timeout=5):
        if time.monotonic() > deadline:  # pragma: no cover
            for p in context.processes:
                p.terminate()
            pytest.fail("the two gloo processes did not finish within 120 s")
    return [torch.load(os.path.join(out_dir, f"rank{r}.pt")) for r in range(2)]


def _assert_grads_equal(got, expected):
    assert len(got) == len(expected)
    for g, e in zip(got, expected):
        torch.testing.assert_close(g, e, rtol=1e-6, atol=1e-6)


def test_trap9_ddp_global_reduction_equals_full_batch_gradient(two_rank_results):
    _, expected = _full_batch_reference()
    for rank in two_rank_results:
        _assert_grads_equal(rank["ddp"], expected)


def test_trap9_ddp_loss_averaged_over_ranks_is_the_global_mean(two_rank_results):
    value, _ = _full_batch_reference()
    torch.testing.assert_close(two_rank_results[0]["loss_avg_over_ranks"], value,
                               rtol=1e-6, atol=1e-6)


def test_trap9_ddp_gradient_accumulation_with_total_weight_denominator(two_rank_results):
    _, expected = _full_batch_reference()
    for rank in two_rank_results:
        _assert_grads_equal(rank["ddp_accumulated"], expected)


def test_trap9_per_rank_weighted_means_averaged_by_ddp_are_wrong(two_rank_results):
    """The trap itself: averaging per-rank weighted means is not the global weighted mean."""
    _, expected = _full_batch_reference()
    got = two_rank_results[0]["per_rank_mean"]
    assert max((g - e).abs().max().item() for g, e in zip(got, expected)) > 1e-3


def test_trap9_gradient_accumulation_single_process():
    """Micro-batches with denominator=total_weight(all targets) give the full-batch gradient."""
    x, y, yb = _data()
    _, expected = _full_batch_reference()
    head, bhead = _models()
    ce, bce = _criteria("global")
    micro = [slice(0, 3), slice(3, 11), slice(11, 16)]
    den = ce.total_weight([y[s] for s in micro])
    bden = bce.total_weight([yb[s] for s in micro])
    for s in micro:
        (ce(head(x[s]), y[s], denominator=den) + bce(bhead(x[s]), yb[s], denominator=bden)).backward()
    _assert_grads_equal(_grads(head, bhead), expected)
    # the trap: the average of micro-batch means is not the batch mean
    head, bhead = _models()
    mean_ce, mean_bce = _criteria("weighted_mean")
    for s in micro:
        ((mean_ce(head(x[s]), y[s]) + mean_bce(bhead(x[s]), yb[s])) / len(micro)).backward()
    assert max((g - e).abs().max().item() for g, e in zip(_grads(head, bhead), expected)) > 1e-3


def test_global_without_process_group_is_mean_and_functional_denominator():
    x, y, _ = _data()
    logits = nn.Linear(5, 4)(x)
    kwargs = dict(class_weight=CLASS_WEIGHT, ignore_index=-1)
    mean = wt.weighted_cross_entropy(logits, y, **kwargs)
    torch.testing.assert_close(wt.weighted_cross_entropy(logits, y, reduction="global", **kwargs), mean)
    total = wt.WeightedCrossEntropyLoss(class_weight=CLASS_WEIGHT, ignore_index=-1).total_weight(y)
    valid = y != -1
    torch.testing.assert_close(total, CLASS_WEIGHT[y[valid]].double().sum())
    torch.testing.assert_close(
        wt.weighted_cross_entropy(logits, y, reduction="global", denominator=2 * total, **kwargs),
        mean / 2)
