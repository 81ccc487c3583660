"""Benchmark: one diagnose run against the large-organization scenario over real loopback HTTP.

The simulated Anypoint runs in its own process (`mulesight simulate`, 20 ms added per answer), so
the client and the server do not share an interpreter. Prints the wall time of one run (the median of
--repeat runs), the lower
bound (the longest chain of dependent probes × latency, or probes ÷ the per-host rate limit,
whichever is larger), the ratio, the speed-up against running the same probes one after another,
and peak memory. The last line is machine-readable.

    .venv/bin/python bench/diagnose.py [--scenario NAME_OR_FILE] [--repeat N] [--no-sequential]
"""

from __future__ import annotations

import argparse
import os
import resource
import statistics
import subprocess
import sys
import time
from pathlib import Path

from diagnostics.catalogue import PROBES_BY_KEY
from diagnostics.engine import DEFAULT_RATE_PER_SECOND, RunInput, RunOptions, run_diagnostics
from diagnostics.model import AppState, Connection
from diagnostics.report import Report
from diagnostics.simulator import load_scenario

MULESIGHT = Path(sys.executable).with_name("mulesight")


def start_simulator(scenario: str) -> tuple[subprocess.Popen[str], str]:
    proc = subprocess.Popen(
        [str(MULESIGHT), "simulate", "--scenario", scenario, "--port", "0"],
        stdout=subprocess.PIPE,
        stderr=subprocess.DEVNULL,
        text=True,
    )
    assert proc.stdout is not None
    base_url = proc.stdout.readline().strip()
    if not base_url.startswith("http"):
        proc.kill()
        raise SystemExit(f"the simulator did not start: {base_url!r}")
    return proc, base_url


def chain_depth(key: str) -> int:
    """How many probes stand one after another up to and including ``key``."""
    probe = PROBES_BY_KEY[key]
    return 1 + max((chain_depth(dep) for dep in probe.depends_on), default=0)


def one_run(base_url: str, org_id: str, options: RunOptions) -> tuple[float, Report]:
    connection = Connection(
        client_id="bench-client",
        client_secret="bench-secret",
        organization_id=org_id,
        control_plane="custom",
        base_url=base_url,
    )
    started = time.perf_counter()
    # Like `diagnose --live`: the run has no view of the service's caches.
    report = run_diagnostics(RunInput(connection, AppState(cache_known=False)), options)
    return time.perf_counter() - started, report


def executed_probes(report: Report) -> list[dict]:
    return [
        p
        for d in report.data["datasets"].values()
        for p in d["probes"]
        if p["outcome"] != "skipped"
    ]


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--scenario", default="large-organization")
    parser.add_argument("--repeat", type=int, default=5, help="runs to take the median of")
    parser.add_argument("--sequential", action=argparse.BooleanOptionalAction, default=True)
    args = parser.parse_args()
    scenario = load_scenario(args.scenario)
    latency_s = scenario.latency_ms / 1000
    proc, base_url = start_simulator(args.scenario)
    try:
        org_id = scenario.organization().id
        one_run(base_url, org_id, RunOptions())  # warm-up: imports, first connections
        runs = [one_run(base_url, org_id, RunOptions()) for _ in range(args.repeat)]
        walls = sorted(w for w, _ in runs)
        wall_s = statistics.median(walls)
        report = runs[0][1]
        probes = executed_probes(report)
        depth = max(chain_depth(p["probe"]) for p in probes)
        lower_bound_s = max(depth * latency_s, len(probes) / DEFAULT_RATE_PER_SECOND)
        print(f"scenario            {args.scenario} ({len(scenario.environments())} environments)")
        print(f"probes run          {len(probes)} (longest dependency chain {depth})")
        print(f"verdict             {report.verdict}")
        print(
            f"wall time           {wall_s:.3f} s (median of {args.repeat}: "
            f"{', '.join(f'{w:.3f}' for w in walls)})"
        )
        print(f"lower bound         {lower_bound_s:.3f} s")
        sequential_s = float("nan")
        if args.sequential:
            sequential_s, _ = one_run(base_url, org_id, RunOptions(concurrency=1, deadline_s=600))
            print(f"sequential          {sequential_s:.3f} s (concurrency 1)")
    finally:
        proc.terminate()
        proc.wait(timeout=10)
    peak_rss_mb = resource.getrusage(resource.RUSAGE_SELF).ru_maxrss / 1024
    ratio = wall_s / lower_bound_s
    speedup = sequential_s / wall_s
    print(f"ratio to bound      {ratio:.2f}x (target ≤ 1.2)")
    print(f"speed-up            {speedup:.1f}x vs sequential (target ≥ 20)")
    load = os.getloadavg()
    print(f"load average        {load[0]:.2f} {load[1]:.2f} {load[2]:.2f} ({os.cpu_count()} CPUs)")
    print(f"peak RSS            {peak_rss_mb:.1f} MB (pid {os.getpid()})")
    print(
        f"wall_s={wall_s:.3f} lower_bound_s={lower_bound_s:.3f} "
        f"ratio_to_lower_bound={ratio:.2f} speedup_vs_sequential={speedup:.1f} "
        f"peak_rss_mb={peak_rss_mb:.1f}"
    )


if __name__ == "__main__":
    main()
