"""ewacct_torch's accountant at training-loop speed, against Opacus' RDP and PRV in one run.

Prints Markdown (and writes it with ``--write``):

1. ``get_epsilon`` on a 2,000-step history (q = 0.01, sigma = 1, delta = 1e-5), warm (kernels
   loaded, one query made): a *new* history each call (one ``step()`` then a query: what
   logging every k steps pays) and the *same* history again (ewacct answers from its cache);
   "ew" certified (the default), "ew" estimate, Opacus RDP and PRV.
2. ``get_epsilon`` every 10 steps over a CPU training run of the tiny test model (2-layer
   BERT, hidden 16, the one tests/torch trains), through ``ewacct_torch.finetune``'s
   progress path (certified and estimate); the RDP / PRV rows replay the same histories.
3. ``make_private_with_epsilon`` (Opacus' mnist pattern on synthetic data: 300 steps,
   q = 0.01, target eps 3, delta 1e-5) with "ew" (certified), "ew-estimate", "rdp", "prv".
4. The examples of Opacus' ``test_get_noise_multiplier_overshoot`` (its corners, q = 1e-4
   over 1e5 and 1e6 steps among them, plus seeded draws from its strategy) with "ew": time
   and peak memory of each, each in its own process with a time cap.
5. A 6-segment noise schedule: the certified epsilon and its bracket against dp_accounting's
   PLD (pessimistic and optimistic) at a fine value discretisation.

    python benchmarks/torch_accountant.py [--repeat 7] [--train-steps 300]
        [--cap 120] [--pld-vdi 1e-5] [--write docs/benchmarks_torch.md]

No timing here is asserted anywhere: the numbers are what this machine measured.
"""

from __future__ import annotations

import argparse
import dataclasses
import json
import math
import os
import platform
import random
import resource
import statistics
import subprocess
import sys
import time
import warnings
from pathlib import Path
from typing import Any, Callable

ROOT = Path(__file__).resolve().parents[1]
DELTA = 1e-5
#: get_epsilon benchmark history
Q, SIGMA, STEPS = 0.01, 1.0, 2000
#: Opacus' overshoot strategy (accountants_test.py) and the corners run explicitly
OVERSHOOT_RATES = [1e-4, 2e-4, 5e-4, 1e-3, 2e-3, 5e-3, 1e-2, 2e-2, 5e-2, 1e-1]
OVERSHOOT_CORNERS = [
    (1.0, 10, 1e-4, 1e-4), (1.0, 10, 1e-4, 1e-6), (10.0, 100, 1e-4, 1e-6),
    (1.0, 100, 1e-4, 1e-6), (1.0, 100, 1e-1, 1e-6), (10.0, 10, 1e-1, 1e-4),
]
#: the 6-segment schedule: (sigma, q, steps)
SCHEDULE = [(2.0, 0.01, 300), (1.6, 0.01, 300), (1.3, 0.01, 300), (1.1, 0.01, 300),
            (1.0, 0.01, 300), (0.9, 0.01, 300)]


def _quiet() -> None:
    warnings.simplefilter("ignore")


def _ms(x: float | None) -> str:
    if x is None or not math.isfinite(x):
        return "n/a"
    return f"{x * 1e3:.3g} ms" if x < 1.0 else f"{x:.3g} s"


def _ratio(a: float | None, b: float | None) -> str:
    if a is None or b is None or not (a > 0 and b > 0):
        return "n/a"
    return f"{a / b:.3g}x"


def _accountant(name: str) -> Any:
    import ewacct_torch  # noqa: F401  (registers "ew")
    from opacus.accountants import PRVAccountant, RDPAccountant

    from ewacct_torch import EWAccountant

    return {"ew": lambda: EWAccountant(), "ew-estimate": lambda: EWAccountant(bound="estimate"),
            "rdp": RDPAccountant, "prv": PRVAccountant}[name]()


# ------------------------------------------------------------------ 1. get_epsilon, 2000 steps
def bench_get_epsilon(repeat: int) -> tuple[list[str], dict[str, Any]]:
    rows: dict[str, dict[str, float]] = {}
    eps: dict[str, float] = {}
    for name in ("ew", "ew-estimate", "rdp", "prv"):
        acc = _accountant(name)
        acc.history = [(SIGMA, Q, STEPS - repeat - 1)]
        acc.get_epsilon(DELTA)  # warm: kernels loaded, first query made
        fresh = []
        for _ in range(repeat):
            acc.step(noise_multiplier=SIGMA, sample_rate=Q)
            t0 = time.perf_counter()
            e = acc.get_epsilon(DELTA)
            fresh.append(time.perf_counter() - t0)
        acc.step(noise_multiplier=SIGMA, sample_rate=Q)
        assert sum(int(h[2]) for h in acc.history) == STEPS
        acc.get_epsilon(DELTA)
        same = []
        for _ in range(repeat):
            t0 = time.perf_counter()
            e = acc.get_epsilon(DELTA)
            same.append(time.perf_counter() - t0)
        rows[name] = {"fresh": statistics.median(fresh), "same": statistics.median(same)}
        eps[name] = float(e)
    lines = [
        f"### get_epsilon on a {STEPS}-step history (q = {Q}, sigma = {SIGMA}, delta = {DELTA:g})",
        "",
        f"Median of {repeat} warm calls. *New history*: one `step()` before each call (what logging "
        "every k steps pays); *same history*: the call repeated.",
        "",
        "| accountant | epsilon | new history | same history | new vs rdp | new vs prv |",
        "|---|---:|---:|---:|---:|---:|",
    ]
    label = {"ew": "ew (certified, default)", "ew-estimate": "ew (bound='estimate')",
             "rdp": "Opacus rdp", "prv": "Opacus prv"}
    for name, r in rows.items():
        lines.append(f"| {label[name]} | {eps[name]:.6f} | {_ms(r['fresh'])} | {_ms(r['same'])} | "
                     f"{_ratio(r['fresh'], rows['rdp']['fresh'])} | "
                     f"{_ratio(r['fresh'], rows['prv']['fresh'])} |")
    return lines, {"rows": rows, "eps": eps}


# ------------------------------------------------------------ 2. every 10 steps in training
def bench_training(train_steps: int, every: int) -> tuple[list[str], dict[str, Any]]:
    sys.path.insert(0, str(ROOT / "tests" / "torch"))
    from _helpers import tiny_args, tiny_prepared  # type: ignore[import-not-found]

    from ewacct_torch import finetune as ft

    args = tiny_args(["--accountant", "rdp", "--max-steps", str(train_steps),
                      "--log-every", str(every), "--delta", str(DELTA)])
    prep = tiny_prepared(args, n=1600)  # batch 16 -> q = 0.01
    base = ft._plan(args, prep, "rdp")
    plan = dataclasses.replace(base, accountant="ew", ew_method=None, guarantee="certified",
                               steps=max(base.steps, train_steps))
    calls: list[float] = []
    real_spent = ft._spent

    def timed(engine: Any, p: Any) -> dict[str, float]:
        t0 = time.perf_counter()
        out = real_spent(engine, p)
        calls.append(time.perf_counter() - t0)
        return out

    ft._spent = timed
    try:
        rec = ft._train_once(prep, plan, seed=0, out=None, resume=False)
    finally:
        ft._spent = real_spent
    train_s = float(rec["train_seconds"])
    acct = sum(calls)
    model_s = train_s - acct
    n_calls = len(calls)
    # replay the same histories with the other accountants (fresh accountant, stepped)
    replay: dict[str, float] = {}
    per_call: list[tuple[int, float, str]] = []
    for name in ("ew", "rdp", "prv"):
        if name == "ew":  # the loop above warmed the core's per-mechanism caches at this sigma
            try:
                from ewacct.methods.certified import clear_caches
            except ImportError:
                pass
            else:
                clear_caches()
        acc = _accountant(name)
        acc.history = [(plan.noise_multiplier, plan.sample_rate, 1)]
        acc.get_epsilon(plan.target_delta)  # warm
        acc.history = []
        tot = 0.0
        for k in range(1, rec["steps_done"] + 1):
            acc.step(noise_multiplier=plan.noise_multiplier, sample_rate=plan.sample_rate)
            if k % every == 0 or k == rec["steps_done"]:
                t0 = time.perf_counter()
                acc.get_epsilon(plan.target_delta)
                dt = time.perf_counter() - t0
                tot += dt
                if name == "ew":
                    by = str(acc.get_epsilon_result(plan.target_delta, certify=True).certified_by)
                    per_call.append((k, dt, "PLD" if "PLD" in by else by.split(" ")[0]))
        replay[name] = tot
    first = calls[0] if calls else math.nan
    lines = [
        f"### get_epsilon every {every} steps while training the tiny model on CPU",
        "",
        f"{rec['steps_done']} DP steps of the tiny test model (2-layer BERT, hidden 16; batch 16 of "
        f"1,600, q = {plan.sample_rate:g}, sigma = {plan.noise_multiplier:.4g}, physical batch 8, "
        f"delta = {plan.target_delta:g}), "
        f"model time {model_s:.3g} s ({model_s / max(1, rec['steps_done']) * 1e3:.3g} ms/step). "
        f"The ew row is measured inside `ewacct_torch.finetune`'s loop: each progress line asks for "
        f"the certified bound and the estimate (`EWAccountant.epsilons`). The other rows replay the "
        f"same histories (a fresh `step()`-ed accountant, warm; ewacct's enclosure caches cleared "
        f"first) and divide by the same model time. The model time is very sensitive to other "
        f"jobs on a 2-core machine (15 ms/step alone, up to 2 s/step under load).",
        "",
        "| accountant | calls | accounting | per call | share of (model + accounting) |",
        "|---|---:|---:|---:|---:|",
        f"| ew in the loop (certified + estimate) | {n_calls} | {_ms(acct)} | {_ms(acct / max(1, n_calls))} "
        f"| {100 * acct / (model_s + acct):.2f} % |",
    ]
    if n_calls > 1:
        rest = acct - first
        lines.append(f"| ... without the first call ({_ms(first)}: kernels loaded) | {n_calls - 1} | "
                     f"{_ms(rest)} | {_ms(rest / (n_calls - 1))} | {100 * rest / (model_s + rest):.2f} % |")
    if n_calls > 10:
        # the first calls answer few participations (q T < 1): the core may certify them by PLD
        late = calls[10:]
        share = sum(late) / (model_s * len(late) / n_calls + sum(late))
        lines.append(f"| ... calls 11-{n_calls} only (after step {10 * every}) | {len(late)} | "
                     f"{_ms(sum(late))} | {_ms(sum(late) / len(late))} | {100 * share:.2f} % |")
    for name, tot in replay.items():
        lbl = {"ew": "ew replay (certified)", "rdp": "Opacus rdp replay", "prv": "Opacus prv replay"}[name]
        lines.append(f"| {lbl} | {n_calls} | {_ms(tot)} | {_ms(tot / max(1, n_calls))} | "
                     f"{100 * tot / (model_s + tot):.2f} % |")
    lines += ["", "ew replay, per call (step: time, certificate source): "
              + ", ".join(f"{k}: {_ms(dt)} ({src})" for k, dt, src in per_call) + "."]
    return lines, {"train_s": train_s, "model_s": model_s, "acct_s": acct, "calls": calls,
                   "replay": replay, "steps": rec["steps_done"]}


# ------------------------------------------------------------- 3. make_private_with_epsilon
def bench_make_private(repeat: int) -> tuple[list[str], dict[str, Any]]:
    import torch
    from opacus import PrivacyEngine
    from torch import nn
    from torch.utils.data import DataLoader, TensorDataset

    import ewacct_torch
    from ewacct_torch import EWAccountant

    if "ew-estimate" not in __import__("opacus.accountants.registry", fromlist=["x"])._ACCOUNTANTS:
        ewacct_torch.register("ew-estimate", ewacct_torch.make_accountant_class("ew-estimate",
                                                                                bound="estimate"))
    target, epochs = 3.0, 3
    g = torch.Generator().manual_seed(0)
    x, y = torch.randn(6400, 20, generator=g), torch.randint(0, 2, (6400,), generator=g)
    rows: dict[str, dict[str, float]] = {}
    for name in ("ew", "ew-estimate", "rdp", "prv"):
        times, sigma = [], math.nan
        for _ in range(repeat):
            model = nn.Sequential(nn.Linear(20, 16), nn.ReLU(), nn.Linear(16, 2))
            opt = torch.optim.SGD(model.parameters(), lr=0.1)
            dl = DataLoader(TensorDataset(x, y), batch_size=64)
            engine = PrivacyEngine(accountant=name)
            t0 = time.perf_counter()
            _, opt, _ = engine.make_private_with_epsilon(
                module=model, optimizer=opt, data_loader=dl, target_epsilon=target,
                target_delta=DELTA, epochs=epochs, max_grad_norm=1.0)
            times.append(time.perf_counter() - t0)
            sigma = float(opt.noise_multiplier)
        check = EWAccountant()
        check.history = [(sigma, 0.01, 300)]
        rows[name] = {"seconds": statistics.median(times), "sigma": sigma,
                      "ew_certified": float(check.get_epsilon(DELTA))}
    lines = [
        "### make_private_with_epsilon (300 steps, q = 0.01, target eps 3, delta 1e-5)",
        "",
        f"Median of {repeat} calls (after a first one per process loaded the kernels). The last column "
        "is ewacct's certified epsilon at the sigma each accountant chose.",
        "",
        "| accountant | time | vs rdp | vs prv | sigma | certified eps at that sigma |",
        "|---|---:|---:|---:|---:|---:|",
    ]
    for name, r in rows.items():
        lines.append(f"| {name} | {_ms(r['seconds'])} | {_ratio(r['seconds'], rows['rdp']['seconds'])} | "
                     f"{_ratio(r['seconds'], rows['prv']['seconds'])} | {r['sigma']:.6f} | "
                     f"{r['ew_certified']:.6f} |")
    return lines, {"rows": rows}


# -------------------------------------------------------------------------- 4. overshoot
def overshoot_examples(n_random: int, seed: int = 0) -> list[tuple[float, int, float, float]]:
    rng = random.Random(seed)
    ex = list(OVERSHOOT_CORNERS)
    for _ in range(n_random):
        ex.append((round(rng.uniform(1.0, 10.0), 4), rng.randint(10, 100), rng.choice(OVERSHOOT_RATES),
                   rng.choice([1e-4, 1e-5, 1e-6])))
    return ex


def _one_overshoot(spec: str) -> None:
    """Child process: warm up, then time one overshoot example and report peak memory."""
    import tracemalloc

    _quiet()
    eps, epochs, q, delta = json.loads(spec)
    import opacus.accountants.utils as ou
    from opacus.accountants import create_accountant

    import ewacct_torch  # noqa: F401

    ou.get_noise_multiplier(target_epsilon=3.0, target_delta=1e-5, sample_rate=0.02, steps=200,
                            accountant="ew")  # warm-up (kernels loaded)
    rss0 = resource.getrusage(resource.RUSAGE_SELF).ru_maxrss
    tracemalloc.start()
    t0 = time.perf_counter()
    sigma = ou.get_noise_multiplier(target_epsilon=eps, target_delta=delta, sample_rate=q,
                                    epochs=epochs, accountant="ew")
    acc = create_accountant("ew")
    acc.history = [(sigma, q, int(epochs / q))]
    actual = acc.get_epsilon(delta)
    secs = time.perf_counter() - t0
    source = str(acc.get_epsilon_result(delta, certify=True).certified_by)
    _, peak = tracemalloc.get_traced_memory()
    tracemalloc.stop()
    rss1 = resource.getrusage(resource.RUSAGE_SELF).ru_maxrss
    print(json.dumps({"seconds": secs, "peak_traced_mb": peak / 2**20,
                      "rss_growth_mb": max(0, rss1 - rss0) / 1024, "rss_mb": rss1 / 1024,
                      "sigma": sigma, "eps": actual, "ok": actual <= eps, "source": source}))


def bench_overshoot(n_random: int, cap: float) -> tuple[list[str], dict[str, Any]]:
    out = []
    for ex in overshoot_examples(n_random):
        cmd = [sys.executable, str(Path(__file__).resolve()), "--one-overshoot", json.dumps(ex)]
        t0 = time.perf_counter()
        try:
            p = subprocess.run(cmd, capture_output=True, text=True, timeout=cap, cwd=ROOT)
            res = json.loads(p.stdout.strip().splitlines()[-1]) if p.returncode == 0 else {
                "error": (p.stderr.strip().splitlines() or ["failed"])[-1]}
        except subprocess.TimeoutExpired:
            res = {"error": f"over the {cap:g} s cap"}
        res["wall"] = time.perf_counter() - t0
        out.append((ex, res))
    lines = [
        "### Opacus' overshoot property test with \"ew\"",
        "",
        "`get_noise_multiplier(accountant=\"ew\")` (certified), then the accountant's `get_epsilon` at "
        f"that sigma, one process per example (after a warm-up call), capped at {cap:g} s. Memory: "
        "peak of Python-traced allocations (tracemalloc, numpy included) and growth of the process' "
        "peak RSS. Corners first, then seeded draws from the test's strategy.",
        "",
        "| target eps | epochs | q | delta | steps | sigma | eps (certified) <= target | time | "
        "peak traced | RSS growth | certified by |",
        "|---:|---:|---:|---:|---:|---:|---|---:|---:|---:|---|",
    ]
    for (eps, epochs, q, delta), r in out:
        steps = int(epochs / q)
        if "error" in r:
            lines.append(f"| {eps:g} | {epochs} | {q:g} | {delta:g} | {steps:,} | - | {r['error']} | "
                         f"> {_ms(r['wall'])} | - | - | - |")
        else:
            lines.append(f"| {eps:g} | {epochs} | {q:g} | {delta:g} | {steps:,} | {r['sigma']:.5f} | "
                         f"{r['eps']:.5f} {'yes' if r['ok'] else 'NO'} | {_ms(r['seconds'])} | "
                         f"{r['peak_traced_mb']:.1f} MB | {r['rss_growth_mb']:.0f} MB | "
                         f"{r.get('source', '?')} |")
    done = [r for _, r in out if "error" not in r]
    if done:
        lines += ["", f"Slowest example {_ms(max(r['seconds'] for r in done))}, largest traced peak "
                  f"{max(r['peak_traced_mb'] for r in done):.1f} MB, {len(out) - len(done)} of {len(out)} "
                  "examples did not finish."]
    return lines, {"examples": out}


# ----------------------------------------------------------------- 5. 6-segment schedule
def bench_schedule(vdi: float) -> tuple[list[str], dict[str, Any]]:
    from dp_accounting.pld import privacy_loss_distribution as pl

    from ewacct_torch import EWAccountant

    acc = EWAccountant()
    for s, q, n in SCHEDULE:
        for _ in range(n):
            acc.step(noise_multiplier=s, sample_rate=q)
    t0 = time.perf_counter()
    br = acc.epsilons(DELTA)
    t_ew = time.perf_counter() - t0

    def pld(pessimistic: bool) -> float:
        total = None
        for s, q, n in SCHEDULE:
            p = pl.from_gaussian_mechanism(s, sampling_prob=q, pessimistic_estimate=pessimistic,
                                           value_discretization_interval=vdi,
                                           use_connect_dots=pessimistic).self_compose(n)
            total = p if total is None else total.compose(p)
        return float(total.get_epsilon_for_delta(DELTA))

    t0 = time.perf_counter()
    hi = pld(True)
    lo = pld(False)
    t_pld = time.perf_counter() - t0
    cert = br["certified"]
    mid = 0.5 * (lo + hi)
    lines = [
        f"### A 6-segment noise schedule against dp_accounting PLD (value discretisation {vdi:g})",
        "",
        "Segments (sigma, q, steps): " + ", ".join(f"({s:g}, {q:g}, {n})" for s, q, n in SCHEDULE)
        + f"; delta = {DELTA:g}. PLD: pessimistic (connect-the-dots) and optimistic ends, composed "
        "directly with dp_accounting.",
        "",
        "| quantity | value |",
        "|---|---:|",
        f"| ew certified bracket | [{br['certified_lower']:.9f}, {cert:.9f}] "
        f"(relative width {(cert - br['certified_lower']) / cert:.1e}) |",
        f"| ew estimate (exact engine) | {br['estimate']:.9f} |",
        f"| PLD bracket | [{lo:.9f}, {hi:.9f}] |",
        f"| (ew certified - PLD pessimistic) / PLD pessimistic | {(cert - hi) / hi:+.2e} |",
        f"| (ew certified - PLD midpoint) / PLD midpoint | {(cert - mid) / mid:+.2e} |",
        f"| (ew estimate - PLD midpoint) / PLD midpoint | {(br['estimate'] - mid) / mid:+.2e} |",
        f"| PLD's own relative width | {(hi - lo) / hi:.2e} |",
        f"| ew certified inside PLD's bracket | {'yes' if lo <= cert <= hi else 'no'} |",
        f"| time: ew (certified + estimate, one call) / PLD (both ends) | {_ms(t_ew)} / {_ms(t_pld)} |",
    ]
    return lines, {"ew": br, "pld": (lo, hi), "t_ew": t_ew, "t_pld": t_pld}


# ----------------------------------------------------------------------------------- main
def main(argv: list[str] | None = None) -> int:
    ap = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    ap.add_argument("--repeat", type=int, default=7)
    ap.add_argument("--train-steps", type=int, default=300)
    ap.add_argument("--every", type=int, default=10)
    ap.add_argument("--cap", type=float, default=120.0, help="seconds per overshoot example")
    ap.add_argument("--random-examples", type=int, default=4)
    ap.add_argument("--pld-vdi", type=float, default=1e-5)
    ap.add_argument("--only", default="1,2,3,4,5", help="sections to run, e.g. 1,3")
    ap.add_argument("--write", type=Path, default=None)
    ap.add_argument("--one-overshoot", default=None, help=argparse.SUPPRESS)
    args = ap.parse_args(argv)
    if args.one_overshoot is not None:
        _one_overshoot(args.one_overshoot)
        return 0
    _quiet()
    import opacus
    import torch

    import ewacct

    git = subprocess.run(["git", "log", "-1", "--format=%h %s"], capture_output=True, text=True,
                         cwd=ROOT).stdout.strip()
    changed = subprocess.run(["git", "status", "--porcelain", "--untracked-files=no", "ewacct"],
                             capture_output=True, text=True, cwd=ROOT).stdout.split("\n")
    n_changed = sum(1 for line in changed if line.strip())
    dirty = (f" plus uncommitted changes to {n_changed} core file(s) (other work in progress)"
             if n_changed else "")
    head = [
        "# ewacct_torch accountant benchmarks",
        "",
        f"Generated by `python benchmarks/torch_accountant.py` on {platform.machine()} "
        f"({os.cpu_count()} CPUs), Python {platform.python_version()}, torch {torch.__version__}, "
        f"opacus {opacus.__version__}, torch threads {torch.get_num_threads()}, at commit "
        f"`{git[:90]}`{dirty}. No GPU was available to this session: every number here is CPU. The "
        "machine was shared with other jobs: timings are upper-side, ratios within one run "
        "comparable.",
        "",
    ]
    sections: list[tuple[str, Callable[[], tuple[list[str], Any]]]] = [
        ("1", lambda: bench_get_epsilon(args.repeat)),
        ("2", lambda: bench_training(args.train_steps, args.every)),
        ("3", lambda: bench_make_private(max(1, args.repeat // 3))),
        ("4", lambda: bench_overshoot(args.random_examples, args.cap)),
        ("5", lambda: bench_schedule(args.pld_vdi)),
    ]
    wanted = set(args.only.split(","))
    body: list[str] = []
    for key, fn in sections:
        if key not in wanted:
            continue
        t0 = time.perf_counter()
        lines, _ = fn()
        body += lines + ["", f"<sub>section wall time {time.perf_counter() - t0:.1f} s</sub>", ""]
        print("\n".join(lines) + "\n", flush=True)
    if args.write is not None:
        args.write.write_text("\n".join(head + body).rstrip() + "\n")
        print(f"written to {args.write}")
    del ewacct
    return 0


if __name__ == "__main__":
    sys.exit(main())
