"""Search benchmarks (issue 7, done-when 5).

(a) Integer program on a synthetic DeRy-sized problem: 24 models × K=4 sets with a stitch term for
    every ordered pair of consecutive blocks (≈10 % unsupported), params and FLOPs budgets. Reports
    model build, time to the optimum (goal ≤ 1 s) and to the top-20 (goal ≤ 10 s), each checked
    against exhaustive enumeration of all 24⁴ combinations in numpy.
(b) Candidate pool (issue 10) on the same problems: ``candidate_pool(size=200, min_donors=2)``
    (goal ≤ 2 s) beside the top-20 of ``solve``, then the pool by uniform random draws (enumeration
    off) and by the randomised integer program (enumeration and draws off); every chain checked.
(c) Time to score one candidate network with each proxy at 32 px on Fashion-MNIST: NASWOT
    (5 seeded batches of 32) and LogME (pooled features of --logme-images images + the fixed point).
    With ``--zoo DIR`` (a ``zoo.json`` written by core.zoo.train) the trained zoo models are scored;
    otherwise the zoo's architectures at random init (same cost, the output says so).
(d) With ``--zoo DIR``: building and scoring ``--pool-size`` (200) chains of that zoo as the
    assembly job does (LS stitches, closed-form head + validation accuracy, LogME; then again with
    NASWOT at initialisation and after the LS fit), wall time per proxy set.

    .venv/bin/python benchmarks/search.py [--data PATH] [--zoo DIR] [--seeds 3]
        [--only ip|pool|proxies|pool-scoring] [--pool-size 200]
"""

from __future__ import annotations

import argparse
import os
import resource
import statistics
import sys
import time
from pathlib import Path
from typing import Any

ROOT = Path(__file__).resolve().parents[1]
sys.path.insert(0, str(ROOT))

import numpy as np  # noqa: E402
import timm  # noqa: E402
import torch  # noqa: E402
from torch import nn  # noqa: E402

import core.zoo  # noqa: E402,F401  (registers the zoo architectures with timm)
from core.flops import count_params  # noqa: E402
from core.proxy import logme, naswot, pooled_features  # noqa: E402
from core.search import SearchProblem, Solution, candidate_pool, solve  # noqa: E402
from core.search.ip import _build  # noqa: E402
from core.search.synthetic import dery_scale_problem  # noqa: E402
from core.zoo.data import load_npz, prepare  # noqa: E402
from core.zoo.train import ZOO_RECIPES, load_zoo_model, read_zoo  # noqa: E402

MODELS, K, TOP = 24, 4, 20


def synthetic_problem(seed: int) -> SearchProblem:
    return dery_scale_problem(seed, models=MODELS, k=K)


def exhaustive_top(problem: SearchProblem, n: int) -> tuple[list[float], int]:
    """The n best objectives over all combinations (numpy broadcasting), and the feasible count."""

    def along(k: int, values: np.ndarray) -> np.ndarray:
        shape = [1] * K
        shape[k] = -1
        return values.reshape(shape)

    def pair(k: int, values: np.ndarray) -> np.ndarray:
        shape = [1] * K
        shape[k], shape[k + 1] = MODELS, MODELS
        return values.reshape(shape)

    params = np.zeros([MODELS] * K, dtype=np.int64) + problem.extra_params
    flops = np.zeros([MODELS] * K, dtype=np.int64) + problem.extra_flops
    gain = np.zeros([MODELS] * K)
    ok = np.ones([MODELS] * K, dtype=bool)
    for k, options in enumerate(problem.sets):
        params = params + along(k, np.array([o.params for o in options]))
        flops = flops + along(k, np.array([o.flops for o in options]))
        gain = gain + along(k, np.array([o.score for o in options]))
    for k, layer in enumerate(problem.pairs):
        params = params + pair(k, np.array([[t.params for t in row] for row in layer]))
        flops = flops + pair(k, np.array([[t.flops for t in row] for row in layer]))
        gain = gain + problem.compat_weight * pair(
            k, np.array([[t.compatibility for t in row] for row in layer])
        )
        ok = ok & pair(k, np.array([[t.feasible for t in row] for row in layer]))
    assert problem.max_params is not None and problem.max_flops is not None
    ok &= (params <= problem.max_params) & (flops <= problem.max_flops)
    feasible = np.sort(gain[ok])[::-1]
    return feasible[:n].tolist(), int(ok.sum())


def bench_ip(seeds: int) -> None:
    print(
        f"(a) integer program: {MODELS} models × K={K}, pair terms on every consecutive pair, "
        f"PuLP {_pulp()} + CBC"
    )
    t_build: list[float] = []
    t_opt: list[float] = []
    t_top: list[float] = []
    cpu_top: list[float] = []
    for seed in range(seeds):
        problem = synthetic_problem(seed)
        t0 = time.perf_counter()
        _build(problem)
        t_build.append(time.perf_counter() - t0)
        t0 = time.perf_counter()
        (best,) = solve(problem, top_n=1, time_limit_s=60)
        t_opt.append(time.perf_counter() - t0)
        t0, c0 = time.perf_counter(), _child_cpu()
        top = solve(problem, top_n=TOP, time_limit_s=60)
        t_top.append(time.perf_counter() - t0)
        cpu_top.append(_child_cpu() - c0)
        truth, n_feasible = exhaustive_top(problem, TOP)
        got = [s.objective for s in top]
        exact = len(got) == len(truth) and all(abs(a - b) < 1e-6 for a, b in zip(got, truth, strict=True))
        statuses = sorted({s.status for s in top})
        n_y = len(_build(problem).y)
        print(
            f"  seed {seed}: {MODELS * K} x + {n_y} y binaries, {n_feasible:,}/{MODELS**K:,} chains feasible"
            f" | build {t_build[-1] * 1e3:.0f} ms | optimum {t_opt[-1]:.2f} s ({best.status}, objective "
            f"{best.objective:.4f}) | top-{TOP} {t_top[-1]:.2f} s, CBC CPU {cpu_top[-1]:.2f} s"
            f" ({', '.join(statuses)})"
            f" | equal to exhaustive enumeration: {'yes' if exact else 'NO'}"
        )
    print(
        f"  median over {seeds} seeds: optimum {statistics.median(t_opt):.2f} s (max {max(t_opt):.2f}, "
        f"goal ≤ 1 s), top-{TOP} {statistics.median(t_top):.2f} s (max {max(t_top):.2f}, goal ≤ 10 s); "
        f"CBC CPU for the top-{TOP} {statistics.median(cpu_top):.2f} s"
    )


POOL, MIN_DONORS = 200, 2


def pool_summary(problem: SearchProblem, pool: list[Solution]) -> str:
    """Distinctness and exact feasibility, plus how varied the chains are."""
    choices = [s.choice for s in pool]
    ok = len(set(choices)) == len(choices) and all(
        problem.satisfies(c) and problem.donors_of(c) >= MIN_DONORS for c in choices
    )
    blocks = {b for s in pool for b in s.block_ids}
    donors = statistics.mean(problem.donors_of(c) for c in choices)
    own = sum(problem.donors_of(c) == 1 for c in choices)
    return (
        f"{len(pool)} chains, distinct & feasible: {'yes' if ok else 'NO'}, {len(blocks)} distinct blocks, "
        f"{donors:.2f} donors/chain, single-donor {own}"
    )


def bench_pool(seeds: int) -> None:
    print(
        f"\n(b) candidate pool: size={POOL}, min_donors={MIN_DONORS}, same {MODELS} models × K={K} problems"
    )
    t_pool: list[float] = []
    t_top: list[float] = []
    t_ip: list[float] = []
    for seed in range(seeds):
        problem = synthetic_problem(seed)
        t0 = time.perf_counter()
        pool = candidate_pool(problem, POOL, min_donors=MIN_DONORS, seed=seed)
        t_pool.append(time.perf_counter() - t0)
        t0 = time.perf_counter()
        top = solve(problem, top_n=TOP, time_limit_s=60)
        t_top.append(time.perf_counter() - t0)
        t0 = time.perf_counter()
        drawn = candidate_pool(problem, POOL, min_donors=MIN_DONORS, seed=seed, max_enumerated=0)
        t_draw = time.perf_counter() - t0
        t0 = time.perf_counter()
        forced = candidate_pool(
            problem, POOL, min_donors=MIN_DONORS, seed=seed, time_limit_s=300, max_enumerated=0, max_draws=0
        )
        t_ip.append(time.perf_counter() - t0)
        statuses = sorted({s.status for s in forced})
        print(
            f"  seed {seed}: pool {t_pool[-1]:.3f} s ({pool_summary(problem, pool)}) | top-{TOP} "
            f"{t_top[-1]:.2f} s (single-donor {sum(problem.donors_of(s.choice) == 1 for s in top)}/{TOP}) | "
            f"top-{TOP}/pool time {t_top[-1] / t_pool[-1]:.0f}x\n"
            f"          draws forced {t_draw:.3f} s ({pool_summary(problem, drawn)})\n"
            f"          IP forced {t_ip[-1]:.1f} s = {t_ip[-1] / len(forced) * 1e3:.0f} ms/chain "
            f"({pool_summary(problem, forced)}; {', '.join(statuses)})"
        )
    pool_s, top_s, ip_s = (statistics.median(t) for t in (t_pool, t_top, t_ip))
    print(
        f"  median over {seeds} seeds: pool {pool_s:.3f} s (max {max(t_pool):.3f}, goal ≤ 2 s), "
        f"top-{TOP} {top_s:.2f} s, top-{TOP}/pool {top_s / pool_s:.0f}x; IP-forced pool {ip_s:.1f} s"
    )


def _child_cpu() -> float:
    """CPU seconds used by finished child processes (the CBC runs): load-independent, unlike wall time."""
    usage = resource.getrusage(resource.RUSAGE_CHILDREN)
    return usage.ru_utime + usage.ru_stime


def _pulp() -> str:
    import pulp

    return str(pulp.__version__)


def load_images(path: Path, n: int) -> tuple[np.ndarray, np.ndarray]:
    images, labels = load_npz(path)
    order = np.random.default_rng(0).permutation(len(labels))[:n]
    return images[order], labels[order]


def zoo_models(zoo: Path | None) -> list[tuple[str, nn.Module, tuple[int, int, int], Any, Any]]:
    if zoo is not None:
        out = []
        for entry in read_zoo(zoo / "zoo.json"):
            model = load_zoo_model(entry, zoo / entry.weights_file)
            out.append((f"{entry.name} (trained)", model, entry.input_size, entry.mean, entry.std))
        return out
    models: list[tuple[str, nn.Module, tuple[int, int, int], Any, Any]] = []
    for recipe in ZOO_RECIPES:
        torch.manual_seed(0)
        model = timm.create_model(recipe.arch, pretrained=False, num_classes=10, in_chans=1, **recipe.kwargs)
        models.append((f"{recipe.arch} (random init)", model, (1, 32, 32), 0.286, 0.353))
    torch.manual_seed(0)
    models.append(
        (
            "resnet18 (random init)",
            timm.create_model("resnet18", pretrained=False, in_chans=1),
            (1, 32, 32),
            0.286,
            0.353,
        )
    )
    return models


def bench_proxies(data: Path, zoo: Path | None, logme_images: int) -> None:
    images, labels = load_images(data, max(logme_images, 160))
    print(
        f"\n(c) proxies on one candidate, {data.name}, 1 thread: NASWOT 5×32 images, "
        f"LogME on {logme_images} images (pooled features + fixed point)"
    )
    for name, model, input_size, mean, std in zoo_models(zoo):
        x = prepare(images, input_size, mean, std)
        naswot(model, x[:64], n_batches=1, batch_size=32)  # warm-up (allocator, kernels)
        t0 = time.perf_counter()
        score = naswot(model, x, n_batches=5, batch_size=32, seed=0)
        t_nas = time.perf_counter() - t0
        t0 = time.perf_counter()
        feats = pooled_features(model, x[:logme_images])
        t_feat = time.perf_counter() - t0
        t0 = time.perf_counter()
        value = logme(feats.numpy(), labels[:logme_images])
        t_fix = time.perf_counter() - t0
        shown = f"{score.value:.1f}" if score.finite else f"degenerate ({(score.flag or '').split(':')[0]})"
        print(
            f"  {name:34s} {count_params(model) / 1e6:5.2f} M params | NASWOT {t_nas:5.2f} s (score {shown})"
            f" | LogME {t_feat + t_fix:5.2f} s = features {t_feat:.2f} + fixed point {t_fix:.3f}"
            f" (LogME {value:.3f}, {feats.shape[1]} dims)"
        )


def bench_pool_scoring(data: Path, zoo: Path | None, size: int) -> None:
    """(d) Build and score a pool of chains of a trained zoo, as the assembly job does, per proxy."""
    sys.path.insert(0, str(Path(__file__).parent))
    from dery_fashion import dery_cuts, load_donors  # the benchmark's own zoo loading and partition

    from core.assembly.evaluate import TargetData, evaluate_chain
    from core.assembly.pipeline import SearchConfig, chain_of, draw_pool
    from core.assembly.problem import Budget
    from core.transfer_task import rotated_inverted

    if zoo is None:
        raise SystemExit("--only pool-scoring needs --zoo (e.g. var/demo-zoo, made by `make demo`)")
    donors = load_donors(zoo)
    images, labels = load_images(data, 2512)
    cuts, _ = dery_cuts(donors, images[:512])
    target = TargetData.from_arrays(
        rotated_inverted(images[512:]), labels[512:].astype(np.int64), 10, max_fit=800, max_heldout=600
    )
    largest = max(
        sum(n.params for n in d.dissection.nodes) + d.dissection.stem_params for d in donors.values()
    )
    pool = draw_pool(cuts, donors, 10, Budget(max_params=2 * largest), SearchConfig(pool_size=size))
    print(
        f"\n(d) building and scoring {len(pool)} chains of {zoo} (K=3 DeRy partition, min_donors=2), "
        f"{target.sizes()}, 1 torch thread:"
    )
    for label, with_naswot in (
        ("validation + LogME (one build each)", False),
        ("... + NASWOT init & after LS", True),
    ):
        t0 = time.perf_counter()
        for sol in pool:
            evaluate_chain(chain_of(sol), donors, target, with_naswot=with_naswot)
        wall = time.perf_counter() - t0
        print(f"  {label:40s} {wall:6.1f} s in all, {1000 * wall / len(pool):6.0f} ms per chain")


def main() -> None:
    parser = argparse.ArgumentParser(
        description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter
    )
    default_data = ROOT.parent / "shared" / "datasets" / "fashion_mnist.npz"
    if not default_data.exists():
        default_data = ROOT / "data" / "fashion_subset.npz"
    parser.add_argument("--data", type=Path, default=default_data)
    parser.add_argument("--zoo", type=Path, default=None, help="folder with zoo.json from core.zoo.train")
    parser.add_argument("--seeds", type=int, default=3)
    parser.add_argument("--logme-images", type=int, default=1000)
    parser.add_argument("--only", choices=["ip", "pool", "proxies", "pool-scoring"], default=None)
    parser.add_argument("--pool-size", type=int, default=200)
    args = parser.parse_args()
    torch.set_num_threads(1)
    print(f"load average at start: {', '.join(f'{v:.1f}' for v in os.getloadavg())} on {os.cpu_count()} CPUs")
    if args.only in (None, "ip"):
        bench_ip(args.seeds)
    if args.only in (None, "pool"):
        bench_pool(args.seeds)
    if args.only in (None, "proxies"):
        bench_proxies(args.data, args.zoo, args.logme_images)
    if args.only == "pool-scoring" or (args.only is None and args.zoo is not None):
        bench_pool_scoring(args.data, args.zoo, args.pool_size)


if __name__ == "__main__":
    main()
