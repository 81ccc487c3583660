"""Benchmark: a full refresh crawl of one organization over real loopback HTTP, into the cache.

The simulated Anypoint runs in its own process (`mulesight simulate`, the scenario's latency added
per answer). The refresh is the service's own (`app.services.refresh.refresh_space`, live mode,
the space's base URL pointing at the simulator, SQLite cache in a temporary folder): every page of
every scheduled dataset, every environment, every API instance, streamed into the cache.

Prints the wall time of one refresh (the median of --repeat), the lower bound (calls ÷ the
per-host rate limit, or the longest chain of dependent calls × latency, whichever is larger), the
ratio, and peak memory. Run it at two sizes to see that memory does not grow with the pages
(e.g. bench/scenarios/org-50.yaml and org-200.yaml). The last line is machine-readable.

    .venv/bin/python bench/refresh.py [--scenario bench/scenarios/org-200.yaml] [--repeat 3]
"""

from __future__ import annotations

import argparse
import os
import resource
import statistics
import sys
import tempfile
import time
from collections.abc import Callable
from typing import Any

import requests
from diagnose import start_simulator  # bench/ is the script's folder, first on sys.path

import app.services.refresh as refresh_service
from app import create_app
from app.crypto import SecretBox
from app.storage import ensure_installation, get_space, save_connection
from diagnostics.catalogue import CATALOGUE, Probe
from diagnostics.engine import DEFAULT_RATE_PER_SECOND, pooled_session
from diagnostics.simulator import load_scenario

INSTALLATION = "ari:cloud:ecosystem::installation/00000000-bench-4000-8000-000000000000"
SPACE = "BENCH"


def crawl_chain(probe: Probe) -> int:
    """Calls one after another up to ``probe`` in a crawl (the token call included)."""
    deps = [CATALOGUE.probes_by_key[d] for d in probe.depends_on]
    return 1 + max((crawl_chain(d) for d in deps), default=0)


def counting(calls: list[int]) -> Callable[[int, str], requests.Session]:
    """``pooled_session`` that counts every HTTP call made through it."""

    def make(concurrency: int, base_url: str) -> requests.Session:
        session = pooled_session(concurrency, base_url)
        session.hooks["response"].append(lambda response, **_: calls.append(1))
        return session

    return make


def one_refresh(app: Any, box: SecretBox) -> tuple[float, dict[str, str]]:
    with app.app_context(), app.extensions["db"].session() as session:
        space = get_space(session, INSTALLATION, SPACE)
        started = time.perf_counter()
        summary = refresh_service.refresh_space(session, space, box, app.config, deadline_s=600)
        wall = time.perf_counter() - started
    return wall, {d.dataset: d.status for d in summary.datasets}


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--scenario", default="bench/scenarios/org-200.yaml")
    parser.add_argument("--repeat", type=int, default=3, help="refreshes to take the median of")
    args = parser.parse_args()
    scenario = load_scenario(args.scenario)
    latency_s = scenario.latency_ms / 1000
    proc, base_url = start_simulator(args.scenario)
    calls: list[int] = []
    refresh_service.pooled_session = counting(calls)  # type: ignore[assignment]
    try:
        with tempfile.TemporaryDirectory() as instance:
            app = create_app(
                {
                    "INSTANCE_PATH": instance,
                    "MULESIGHT_ANYPOINT_MODE": "live",
                    "FORGE_APP_ID": "ari:cloud:ecosystem::app/bench",
                    "MULESIGHT_OUTBOUND_ALLOW": "127.0.0.0/8",  # the simulator is on loopback
                }
            )
            box: SecretBox = app.extensions["secret_box"]
            with app.app_context(), app.extensions["db"].session() as session:
                ensure_installation(session, INSTALLATION, "bench-cloud")
                save_connection(
                    session,
                    box,
                    INSTALLATION,
                    space_key=SPACE,
                    client_id="bench-client",
                    client_secret="bench-client-secret",
                    control_plane="us",
                    base_url=base_url,
                    organization_id=scenario.organization().id,
                    sync_interval_hours=24,
                )
            one_refresh(app, box)  # warm-up: imports, first connections, first rows
            walls, statuses = [], {}
            for _ in range(args.repeat):
                calls.clear()
                wall, statuses = one_refresh(app, box)
                walls.append(wall)
            app.extensions["db"].dispose()
    finally:
        proc.terminate()
        proc.wait(timeout=10)
    failed = sorted(name for name, status in statuses.items() if status not in ("ok", "disabled"))
    if failed:
        sys.exit(
            f"refresh failed for {', '.join(failed)}: no figure is meaningful (see the log above)"
        )
    wall_s = statistics.median(walls)
    crawled = [p for p in CATALOGUE.probes if p.sample.crawled]
    depth = max(crawl_chain(p) for p in crawled)
    lower_bound_s = max(depth * latency_s, len(calls) / DEFAULT_RATE_PER_SECOND)
    peak_rss_mb = resource.getrusage(resource.RUSAGE_SELF).ru_maxrss / 1024
    ratio = wall_s / lower_bound_s
    load = os.getloadavg()
    print(f"scenario            {args.scenario} ({len(scenario.environments())} environments)")
    print(f"calls per refresh   {len(calls)} (longest dependency chain {depth})")
    print(f"datasets            {', '.join(f'{k}={v}' for k, v in statuses.items())}")
    print(
        f"wall time           {wall_s:.3f} s (median of {args.repeat}: "
        f"{', '.join(f'{w:.3f}' for w in sorted(walls))})"
    )
    print(f"lower bound         {lower_bound_s:.3f} s (rate limit {DEFAULT_RATE_PER_SECOND:g}/s)")
    print(f"ratio to bound      {ratio:.2f}x (target ≤ 1.3)")
    print(f"peak RSS            {peak_rss_mb:.1f} MB (pid {os.getpid()})")
    print(f"load average        {load[0]:.2f} {load[1]:.2f} {load[2]:.2f} ({os.cpu_count()} CPUs)")
    print(
        f"wall_s={wall_s:.3f} lower_bound_s={lower_bound_s:.3f} "
        f"ratio_to_lower_bound={ratio:.2f} peak_rss_mb={peak_rss_mb:.1f}"
    )


if __name__ == "__main__":
    main()
