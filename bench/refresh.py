"""Benchmark: a full refresh crawl of one organization over real loopback HTTP, into the cache.

The simulated Anypoint runs in its own process (`mulesight simulate`, the scenario's latency added
per answer). The refresh is the service's own (`app.services.refresh.refresh_space`, live mode,
the space's base URL pointing at the simulator, SQLite cache in a temporary folder): every page of
every scheduled dataset, every environment, every API instance, streamed into the cache.

Prints the wall time of one refresh (the median of --repeat), the lower bound (calls ÷ the
per-host rate limit, or the longest chain of dependent calls × latency, whichever is larger), the
ratio, and memory. The last line is machine-readable.

Calls are counted where every HTTP request of the process goes — requests' transport adapter
(``HTTPAdapter.send``), whatever session the refresh uses (a live space's is the SSRF-guarded one)
— and only those sent to the simulator: the token call, every page, every retry. The longest chain
is read from the same count: a probe weighs the most calls one of its tasks made (its pages, one
after another), and a chain adds up the weights along the catalogue's ``depends_on``.

Memory, three ways: ``peak_rss_mb`` is the whole process's peak (imports included); the growth of
the peak over the resident size just before the first refresh; and the Python heap's peak during
one refresh (tracemalloc, an extra untimed refresh). Run it at two sizes, in separate processes,
to see that memory does not grow with the pages (bench/scenarios/org-50.yaml and org-200.yaml).

    .venv/bin/python bench/refresh.py [--scenario bench/scenarios/org-200.yaml] [--repeat 3]
"""

from __future__ import annotations

import argparse
import os
import re
import resource
import statistics
import sys
import tempfile
import threading
import time
import tracemalloc
from collections import Counter
from collections.abc import Mapping
from typing import Any
from urllib.parse import parse_qsl, urlencode, urlsplit

from diagnose import start_simulator  # bench/ is the script's folder, first on sys.path
from requests.adapters import HTTPAdapter

import app.services.refresh as refresh_service
from app import create_app
from app.crypto import SecretBox
from app.storage import ensure_installation, get_space, save_connection
from diagnostics.catalogue import CATALOGUE, Probe
from diagnostics.engine import DEFAULT_RATE_PER_SECOND
from diagnostics.simulator import load_scenario

INSTALLATION = "ari:cloud:ecosystem::installation/00000000-bench-4000-8000-000000000000"
SPACE = "BENCH"


class CallCounter:
    """Every HTTP request the process sends to ``base_url``, by task (see :func:`_task_key`).

    Installed on :class:`requests.adapters.HTTPAdapter` itself, so it sees the calls of any
    session and any adapter subclass (the guarded one of a live space included).
    """

    def __init__(self, base_url: str) -> None:
        self.netloc = urlsplit(base_url).netloc
        self.by_path: Counter[str] = Counter()
        self.received = 0  # bytes of the answers' bodies
        self._lock = threading.Lock()
        self._send = HTTPAdapter.send

    def install(self) -> None:
        counter, send = self, self._send

        def counting_send(adapter: HTTPAdapter, request: Any, *args: Any, **kwargs: Any) -> Any:
            parts = urlsplit(request.url)
            response = send(adapter, request, *args, **kwargs)
            if parts.netloc == counter.netloc:
                key = _task_key(parts.path, parts.query, request.headers)
                size = len(response.content)  # read once; requests keeps it for the client
                with counter._lock:
                    counter.by_path[key] += 1
                    counter.received += size
            return response

        HTTPAdapter.send = counting_send  # type: ignore[method-assign]

    def uninstall(self) -> None:
        HTTPAdapter.send = self._send  # type: ignore[method-assign]

    def take(self) -> tuple[Counter[str], int]:
        """The calls and the bytes received since the last ``take`` (and forget them)."""
        with self._lock:
            taken, self.by_path = self.by_path, Counter()
            received, self.received = self.received, 0
        return taken, received


def _task_key(path: str, query: str, headers: Mapping[str, str]) -> str:
    """What tells one task's calls from another's: the path, the query but for the page, and
    Anypoint's organization and environment headers. A task's pages share the key."""
    kept = sorted(q for q in parse_qsl(query) if q[0] not in ("offset", "limit"))
    scope = [f"{k}={v}" for k, v in headers.items() if k.lower().startswith("x-anypnt-")]
    return " ".join([path, urlencode(kept), *sorted(scope)]).rstrip()


def _path_pattern(template: str) -> re.Pattern[str]:
    parts = re.split(r"\{[a-z_]+\}", template)
    return re.compile("[^/]+".join(re.escape(p) for p in parts))


def longest_chain(by_path: Counter[str]) -> int:
    """The most calls that had to go one after another, from the calls actually made.

    A probe weighs the most calls one of its tasks made (pages come one after another); a chain
    is a probe plus the longest chain of what it depends on. Paths no probe declares weigh 1.
    """
    patterns = [(p, _path_pattern(p.path)) for p in CATALOGUE.probes]
    weight: dict[str, int] = {}
    unknown = 0
    for key, calls in by_path.items():
        path = key.split(" ", 1)[0]
        probe = next((p for p, pattern in patterns if pattern.fullmatch(path)), None)
        if probe is None:
            unknown = 1
            continue
        weight[probe.key] = max(weight.get(probe.key, 0), calls)

    def chain(probe: Probe) -> int:
        deps = [CATALOGUE.probes_by_key[d] for d in probe.depends_on]
        return weight.get(probe.key, 0) + max((chain(d) for d in deps), default=0)

    return max([chain(p) for p in CATALOGUE.probes if p.key in weight] + [unknown])


def _rss_mb(field: str) -> float:
    """``VmRSS`` or ``VmHWM`` (the peak, resettable) of this process, in MB (Linux)."""
    with open("/proc/self/status") as status:
        for line in status:
            if line.startswith(field + ":"):
                return int(line.split()[1]) / 1024
    return float("nan")


def _reset_peak_rss() -> bool:
    """Start ``VmHWM`` again from the current resident size (Linux ≥ 4.0)."""
    try:
        with open("/proc/self/clear_refs", "w") as clear_refs:
            clear_refs.write("5")
    except OSError:
        return False
    return True


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
    parser.add_argument(
        "--heap",
        action=argparse.BooleanOptionalAction,
        default=True,
        help="one more (untimed) refresh under tracemalloc for the Python heap's peak",
    )
    args = parser.parse_args()
    scenario = load_scenario(args.scenario)
    latency_s = scenario.latency_ms / 1000
    proc, base_url = start_simulator(args.scenario)
    counter = CallCounter(base_url)
    counter.install()
    heap_peak_mb = float("nan")
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
            baseline_mb = _rss_mb("VmRSS")
            peak_reset = _reset_peak_rss()
            one_refresh(app, box)  # warm-up: imports, first connections, first rows
            counter.take()
            walls, counts, statuses, received = [], [], {}, 0
            for _ in range(args.repeat):
                wall, statuses = one_refresh(app, box)
                walls.append(wall)
                calls_made, received = counter.take()
                counts.append(calls_made)
            growth_mb = _rss_mb("VmHWM") - baseline_mb if peak_reset else float("nan")
            if args.heap:
                tracemalloc.start()
                one_refresh(app, box)
                heap_peak_mb = tracemalloc.get_traced_memory()[1] / 2**20
                tracemalloc.stop()
            app.extensions["db"].dispose()
    finally:
        counter.uninstall()
        proc.terminate()
        proc.wait(timeout=10)
    failed = sorted(name for name, status in statuses.items() if status not in ("ok", "disabled"))
    if failed:
        sys.exit(
            f"refresh failed for {', '.join(failed)}: no figure is meaningful (see the log above)"
        )
    wall_s = statistics.median(walls)
    totals = [sum(c.values()) for c in counts]
    calls = statistics.median(totals)
    depth = max(longest_chain(c) for c in counts)
    lower_bound_s = max(depth * latency_s, calls / DEFAULT_RATE_PER_SECOND)
    peak_rss_mb = resource.getrusage(resource.RUSAGE_SELF).ru_maxrss / 1024
    ratio = wall_s / lower_bound_s
    load = os.getloadavg()
    print(f"scenario            {args.scenario} ({len(scenario.environments())} environments)")
    print(
        f"calls per refresh   {calls:g} (each refresh: {', '.join(map(str, totals))}; "
        f"longest chain of dependent calls {depth})"
    )
    print(f"datasets            {', '.join(f'{k}={v}' for k, v in statuses.items())}")
    print(
        f"wall time           {wall_s:.3f} s (median of {args.repeat}: "
        f"{', '.join(f'{w:.3f}' for w in sorted(walls))})"
    )
    print(
        f"lower bound         {lower_bound_s:.3f} s (max of {calls:g} calls ÷ "
        f"{DEFAULT_RATE_PER_SECOND:g}/s, {depth} × {latency_s * 1000:g} ms)"
    )
    print(f"ratio to bound      {ratio:.2f}x (target ≤ 1.3)")
    print(f"answers received    {received / 2**20:.1f} MB per refresh (bodies)")
    print(f"peak RSS            {peak_rss_mb:.1f} MB (whole process, imports included)")
    print(
        f"RSS growth          {growth_mb:.1f} MB (peak over {baseline_mb:.1f} MB before the first)"
    )
    print(f"Python heap peak    {heap_peak_mb:.1f} MB (during one refresh, tracemalloc)")
    print(f"load average        {load[0]:.2f} {load[1]:.2f} {load[2]:.2f} ({os.cpu_count()} CPUs)")
    print(
        f"wall_s={wall_s:.3f} lower_bound_s={lower_bound_s:.3f} "
        f"ratio_to_lower_bound={ratio:.2f} peak_rss_mb={peak_rss_mb:.1f}"
    )


if __name__ == "__main__":
    main()
