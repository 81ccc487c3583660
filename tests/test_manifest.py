"""The Forge manifest of MuleSight for Confluence (``manifest.yml``) and its Custom UI resources.

Atlassian's own validator (the npm package ``@forge/manifest``, the checks ``forge lint`` runs) is
run when ``FORGE_MANIFEST_VALIDATOR_DIR`` names a folder it was installed into; the other tests
check, in Python, what the project relies on: the macro keys, resources that exist, endpoints on
the declared remote, route paths that the backend serves, and egress to the Anypoint hosts.
"""

from __future__ import annotations

import json
import os
import re
import shutil
import subprocess
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import pytest
import yaml

ROOT = Path(__file__).resolve().parents[1]
MANIFEST = ROOT / "manifest.yml"
FORGE_UI = ROOT / "forge"

MACRO_KEYS = frozenset(
    {"exchange-asset", "runtime-manager-app", "api-manager-instance", "environment-summary"}
)
REMOTE_KEY = "mulesight-backend"
ANYPOINT_HOSTS = frozenset(
    {"anypoint.mulesoft.com", "eu1.anypoint.mulesoft.com", "gov.anypoint.mulesoft.com"}
)

# The backend's Forge-facing routes (Flask rule syntax). Endpoint ``route.path`` values in the
# manifest and the paths the Custom UI pages pass to invokeRemote must all be among them.
BACKEND_PATHS = frozenset(
    {
        "/forge/v1/connection",
        "/forge/v1/connection/test",
        "/forge/v1/scopes.csv",
        "/forge/v1/refresh",
        "/forge/v1/datasets/<dataset>",
        "/forge/v1/renders",
        "/forge/v1/spaces",
        "/forge/v1/runs",
        "/forge/v1/runs/<run_id>",
        "/forge/v1/runs/<run_id>/diff",
        "/forge/v1/scheduled/refresh",
        "/forge/v1/rovo/api-inventory",
        "/forge/v1/rovo/runtime-apps",
        "/forge/v1/rovo/refresh-dataset",
        "/forge/v1/rovo/endpoints",
    }
)

# Prints only what the test needs (the result also carries the parsed manifest) on a marked line,
# so anything else the package writes to stdout cannot spoil the JSON.
RESULT_MARK = "FORGE-MANIFEST-RESULT:"
VALIDATE_JS = f"""
const [modulePath, manifestPath] = process.argv.slice(1);
require(modulePath).validate(false, manifestPath).then(
  (r) => console.log(
    {RESULT_MARK!r} + JSON.stringify({{success: r.success, errors: r.errors || []}})
  ),
  (e) => {{ console.error((e && e.stack) || String(e)); process.exit(2); }}
);
"""


def load_manifest() -> dict[str, Any]:
    return yaml.safe_load(MANIFEST.read_text(encoding="utf-8"))


def iter_modules(manifest: dict[str, Any]) -> Iterator[tuple[str, dict[str, Any]]]:
    """Every module of the manifest, as (module type, module)."""
    for module_type, modules in (manifest.get("modules") or {}).items():
        for module in modules or []:
            yield module_type, module


def manifest_route_paths(manifest: dict[str, Any] | None = None) -> set[str]:
    """The ``route.path`` of every endpoint module: the backend routes the manifest names."""
    manifest = load_manifest() if manifest is None else manifest
    return {
        endpoint["route"]["path"]
        for endpoint in manifest["modules"].get("endpoint", [])
        if endpoint.get("route")
    }


def _rule_pattern(rule: str) -> re.Pattern[str]:
    parts = re.split(r"<[^>]+>", rule)
    return re.compile("[^/?]+".join(re.escape(part) for part in parts))


def _ui_remote_paths() -> set[str]:
    """The /forge/v1 path literals of the Custom UI sources, with ``${…}`` as one path segment."""
    found = set()
    for source in (FORGE_UI / "src").rglob("*.js"):
        text = source.read_text(encoding="utf-8")
        for _quote, literal in re.findall(r"""(['"`])(/forge/v1/[^'"`]*)\1""", text):
            found.add(re.sub(r"\$\{[^}]*\}", "x", literal).split("?")[0])
    return found


@pytest.fixture(scope="module")
def manifest() -> dict[str, Any]:
    return load_manifest()


@pytest.mark.node
def test_atlassian_validator_accepts_the_manifest() -> None:
    validator_dir = os.environ.get("FORGE_MANIFEST_VALIDATOR_DIR")
    if not validator_dir:
        pytest.skip(
            "FORGE_MANIFEST_VALIDATOR_DIR is not set (a folder holding "
            "`npm install @forge/manifest tslib`; .ci/run sets it)"
        )
    node = shutil.which("node")
    if node is None:
        pytest.skip("Node.js is not installed")
    package = Path(validator_dir) / "node_modules" / "@forge" / "manifest"
    assert package.is_dir(), f"FORGE_MANIFEST_VALIDATOR_DIR has no {package}"

    proc = subprocess.run(
        [node, "-e", VALIDATE_JS, str(package), str(MANIFEST)],
        cwd=ROOT,
        capture_output=True,
        text=True,
        timeout=180,
        check=False,
    )
    assert proc.returncode == 0, f"the validator crashed:\n{proc.stderr}"
    line = next(x for x in proc.stdout.splitlines() if x.startswith(RESULT_MARK))
    result = json.loads(line.removeprefix(RESULT_MARK))
    problems = "\n".join(
        f"  {e.get('level')}: {e.get('message')} (line {e.get('line')})" for e in result["errors"]
    )
    errors = [e for e in result["errors"] if e.get("level") == "error"]
    assert result["success"] and not errors, f"@forge/manifest rejects manifest.yml:\n{problems}"


def test_the_four_macros_are_declared(manifest: dict[str, Any]) -> None:
    keys = {macro["key"] for macro in manifest["modules"]["macro"]}
    assert keys == MACRO_KEYS


def test_reports_name_each_macro_by_its_manifest_title(manifest: dict[str, Any]) -> None:
    from diagnostics.catalogue import MACRO_NAMES

    titles = {macro["key"]: macro["title"] for macro in manifest["modules"]["macro"]}
    assert dict(MACRO_NAMES) == titles


def test_every_resource_reference_names_a_resource_that_exists(manifest: dict[str, Any]) -> None:
    resources = {resource["key"]: resource["path"] for resource in manifest["resources"]}
    for key, path in resources.items():
        assert (ROOT / path / "index.html").is_file(), (
            f"resource {key}: {path}/index.html is missing"
        )
    referenced = set()
    for module_type, module in iter_modules(manifest):
        config = module.get("config")
        for reference in (
            module.get("resource"),
            isinstance(config, dict) and config.get("resource"),
        ):
            if not reference:
                continue
            resource_key = reference.split("/")[0]
            assert resource_key in resources, (
                f"{module_type} {module['key']}: no resource {reference}"
            )
            referenced.add(resource_key)
    assert referenced == set(resources), "a declared resource is used by no module"


def test_endpoints_are_on_the_declared_remote(manifest: dict[str, Any]) -> None:
    assert [remote["key"] for remote in manifest["remotes"]] == [REMOTE_KEY]
    endpoints = {endpoint["key"]: endpoint for endpoint in manifest["modules"]["endpoint"]}
    for key, endpoint in endpoints.items():
        assert endpoint["remote"] == REMOTE_KEY, f"endpoint {key} is not on {REMOTE_KEY}"
    for module_type, module in iter_modules(manifest):
        resolver = module.get("resolver") or {}
        for reference in (module.get("endpoint"), resolver.get("endpoint")):
            if reference:
                assert reference in endpoints, (
                    f"{module_type} {module['key']}: no endpoint {reference}"
                )


def test_route_paths_are_backend_paths(manifest: dict[str, Any]) -> None:
    paths = manifest_route_paths(manifest)
    assert paths, "no endpoint names a route"
    assert paths <= BACKEND_PATHS, f"not backend routes: {sorted(paths - BACKEND_PATHS)}"
    # Modules the platform invokes on its own (actions, scheduled triggers) need a route.
    endpoints = {endpoint["key"]: endpoint for endpoint in manifest["modules"]["endpoint"]}
    for module_type in ("action", "scheduledTrigger"):
        for module in manifest["modules"][module_type]:
            assert endpoints[module["endpoint"]].get("route"), f"{module['key']} has no route"


def test_custom_ui_calls_only_backend_paths() -> None:
    patterns = [_rule_pattern(rule) for rule in BACKEND_PATHS]
    paths = _ui_remote_paths()
    assert paths, "no /forge/v1 path found in forge/src"
    unknown = sorted(p for p in paths if not any(pattern.fullmatch(p) for pattern in patterns))
    assert not unknown, f"Custom UI calls paths the backend does not serve: {unknown}"


def test_anypoint_hosts_are_declared_egress(manifest: dict[str, Any]) -> None:
    backend = manifest["permissions"]["external"]["fetch"]["backend"]
    addresses = {item.get("address") if isinstance(item, dict) else item for item in backend}
    hosts = {re.sub(r"^https?://", "", str(a)).rstrip("/") for a in addresses if a}
    assert hosts >= ANYPOINT_HOSTS
    assert {"remote": REMOTE_KEY} in backend


@pytest.mark.node
def test_committed_custom_ui_bundles_match_their_sources() -> None:
    node = shutil.which("node")
    if node is None:
        pytest.skip("Node.js is not installed")
    if not (FORGE_UI / "node_modules" / "esbuild").is_dir():
        pytest.skip("forge/node_modules is missing (`npm --prefix forge ci` installs it)")
    proc = subprocess.run(
        [node, "build.mjs", "--check"],
        cwd=FORGE_UI,
        capture_output=True,
        text=True,
        timeout=180,
        check=False,
    )
    assert proc.returncode == 0, proc.stdout + proc.stderr
