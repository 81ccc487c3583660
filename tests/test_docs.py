"""The project's own docs stay readable from a clone and in step with the code.

README.md and docs/*.md link only files inside the repository (no ``../shared``, nothing above the
repository root, no absolute paths), and anchors name real headings. The docs name every built-in
scenario, every ``mulesight`` sub-command and every route; the scenario examples load.
"""

from __future__ import annotations

import re
from collections.abc import Iterator
from pathlib import Path
from urllib.parse import unquote, urlsplit

import click
import pytest
from flask import Flask

from app import create_app
from app.cli import build_cli
from app.config import ENV_VARIABLES
from diagnostics.commands import register_engine_commands
from diagnostics.simulator import builtin_scenarios, parse_scenario

ROOT = Path(__file__).resolve().parent.parent
DOCS = ROOT / "docs"
PAGES = [ROOT / "README.md", *sorted(DOCS.glob("*.md"))]
SCENARIOS = ROOT / "diagnostics" / "scenarios"

FENCE = re.compile(r"^(```|~~~).*?^\1[ \t]*$", re.M | re.S)
INLINE_CODE = re.compile(r"`[^`\n]*`")
INLINE_LINK = re.compile(r"!?\[[^\]\n]*\]\(\s*<?([^)\s>]+)>?(?:\s+\"[^\"]*\")?\s*\)")
REFERENCE_LINK = re.compile(r"^\s{0,3}\[[^\]]+\]:\s*<?(\S+?)>?(?:\s+\S.*)?$", re.M)
HTML_LINK = re.compile(r"<(?:a|img)\b[^>]*?\b(?:href|src)\s*=\s*[\"']([^\"']+)[\"']", re.I)
HEADING = re.compile(r"^#{1,6}\s+(.+?)\s*#*\s*$", re.M)
EXTERNAL = re.compile(r"^[a-z][a-z0-9+.-]*:", re.I)  # http:, https:, mailto:, ...
YAML_BLOCK = re.compile(r"^```yaml\n(.*?)^```", re.M | re.S)


def _name(page: Path) -> str:
    return page.relative_to(ROOT).as_posix()


def prose(text: str) -> str:
    """``text`` without fenced code blocks and inline code (where links are not links)."""
    return INLINE_CODE.sub("", FENCE.sub("", text))


def link_targets(text: str) -> list[str]:
    """Every link and image target of a Markdown page: inline, reference-style and HTML."""
    body = prose(text)
    return [
        m.group(1)
        for pattern in (INLINE_LINK, REFERENCE_LINK, HTML_LINK)
        for m in pattern.finditer(body)
    ]


def slug(heading: str) -> str:
    """GitHub's anchor for a heading: lower case, punctuation dropped, spaces to hyphens."""
    text = re.sub(r"!?\[([^\]]*)\]\([^)]*\)", r"\1", heading)  # a link keeps its text
    text = re.sub(r"[^\w\- ]", "", text.lower())
    return text.replace(" ", "-")


def anchors(page: Path) -> set[str]:
    found: set[str] = set()
    for heading in HEADING.findall(FENCE.sub("", page.read_text(encoding="utf-8"))):
        base = slug(heading)
        anchor, n = base, 0
        while anchor in found:  # GitHub numbers repeated headings: x, x-1, x-2
            n += 1
            anchor = f"{base}-{n}"
        found.add(anchor)
    return found


def relative_links() -> Iterator[tuple[Path, str]]:
    for page in PAGES:
        for target in link_targets(page.read_text(encoding="utf-8")):
            if not EXTERNAL.match(target):
                yield page, target


def link_problem(page: Path, target: str) -> str | None:
    """Why ``target`` (a relative link on ``page``) is broken, or ``None``."""
    parts = urlsplit(target)
    path = unquote(parts.path)
    if path.startswith(("/", "\\")) or re.match(r"^[A-Za-z]:[\\/]", path):
        return "an absolute path: link relative to the page"
    file = (page.parent / path).resolve() if path else page
    if not file.is_relative_to(ROOT):
        return "points outside the repository"
    if not file.exists():
        return "no such file in the repository"
    if parts.fragment and file.suffix == ".md" and parts.fragment not in anchors(file):
        return f"no heading #{parts.fragment} in {_name(file)}"
    return None


# -- the link rules ------------------------------------------------------------------------------


def test_pages_exist() -> None:
    assert (DOCS / "README.md").is_file()
    for name in ("cli.md", "report.md", "scenario-format.md", "http-api.md", "configuration.md"):
        assert (DOCS / name) in PAGES, name


def test_every_relative_link_points_at_a_file_in_the_repository() -> None:
    links = list(relative_links())
    assert len(links) > 20  # the pages do link each other: the parser finds them
    broken = [
        f"{_name(page)}: ({target}) {problem}"
        for page, target in links
        if (problem := link_problem(page, target)) is not None
    ]
    assert broken == []


@pytest.mark.parametrize(
    ("target", "problem"),
    [
        ("../shared/contract/scenario.md", "outside the repository"),
        ("../../README.md", "outside the repository"),
        ("/work/shared/contract/report.md", "absolute path"),
        ("C:/docs/cli.md", "absolute path"),
        ("missing.md", "no such file"),
        ("docs/cli.md#no-such-heading", "no heading"),
    ],
)
def test_a_broken_link_is_caught(target: str, problem: str) -> None:
    message = link_problem(ROOT / "README.md", target)
    assert message is not None and problem in message


def test_link_parser_reads_every_kind_of_link_and_skips_code() -> None:
    text = (
        "See [a](a.md), ![b](img/b.png \"title\") and <a href='c.md'>c</a>.\n"
        "[ref]: d.md\n"
        "`[not](code.md)`\n"
        "```sh\n[not](fenced.md)\n```\n"
    )
    assert sorted(link_targets(text)) == ["a.md", "c.md", "d.md", "img/b.png"]


def test_slug_follows_github() -> None:
    assert slug("`mulesight diagnose`") == "mulesight-diagnose"
    assert slug("`/forge/v1` — the Forge app") == "forgev1--the-forge-app"
    assert slug("The built-in scenarios") == "the-built-in-scenarios"


@pytest.mark.parametrize("page", PAGES, ids=_name)
def test_no_page_mentions_shared(page: Path) -> None:
    assert "../shared" not in page.read_text(encoding="utf-8")


def test_the_index_lists_every_page_of_docs() -> None:
    index = DOCS / "README.md"
    linked = {(index.parent / t).resolve() for t in link_targets(index.read_text(encoding="utf-8"))}
    unlisted = [_name(p) for p in PAGES if p.parent == DOCS and p != index and p not in linked]
    assert unlisted == []


def test_readme_links_the_docs_index() -> None:
    assert "docs/README.md" in link_targets((ROOT / "README.md").read_text(encoding="utf-8"))


# -- the docs name what the code has ---------------------------------------------------------------


def test_every_builtin_scenario_is_named() -> None:
    text = (DOCS / "scenario-format.md").read_text(encoding="utf-8")
    text += (ROOT / "README.md").read_text(encoding="utf-8")
    names = [name for name, _description in builtin_scenarios()]
    assert len(names) >= 10
    assert [n for n in names if not re.search(rf"`{re.escape(n)}`", text)] == []


def test_scenario_examples_load_and_a_builtin_is_quoted_as_shipped() -> None:
    blocks = YAML_BLOCK.findall((DOCS / "scenario-format.md").read_text(encoding="utf-8"))
    assert blocks
    builtins = {name for name, _description in builtin_scenarios()}
    quoted = []
    for block in blocks:
        scenario = parse_scenario(block, "docs/scenario-format.md")
        if scenario.name in builtins:
            shipped = (SCENARIOS / f"{scenario.name}.yaml").read_text(encoding="utf-8")
            assert block == shipped, f"{scenario.name} differs from the shipped file"
            quoted.append(scenario.name)
    assert quoted


def _commands(group: click.Group, prefix: str = "mulesight") -> Iterator[str]:
    for name, command in sorted(group.commands.items()):
        path = f"{prefix} {name}"
        if isinstance(command, click.Group):
            yield from _commands(command, path)
        else:
            yield path


def test_cli_doc_names_every_sub_command() -> None:
    text = (DOCS / "cli.md").read_text(encoding="utf-8")
    commands = list(_commands(build_cli(register_engine_commands())))
    assert "mulesight diagnose" in commands and "mulesight token create" in commands
    assert [c for c in commands if not re.search(rf"{re.escape(c)}(?![\w-])", text)] == []


@pytest.fixture
def service(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> Flask:
    for name in ENV_VARIABLES:
        monkeypatch.delenv(name, raising=False)
    return create_app({"INSTANCE_PATH": str(tmp_path), "MULESIGHT_AUTO_MIGRATE": False})


def _route_pattern(method: str, rule: str) -> re.Pattern[str]:
    """``GET /runs/<run_id>`` as written in the docs: ``GET /runs/{run_id}`` (any name)."""
    parts = re.split(r"<[^>]+>", rule)
    path = r"\{[^}\s]*\}".join(re.escape(p) for p in parts)
    return re.compile(rf"{method} {path}(?![\w/{{.-])")


def test_http_doc_names_every_route(service: Flask) -> None:
    text = (DOCS / "http-api.md").read_text(encoding="utf-8")
    routes = [
        (method, rule.rule)
        for rule in service.url_map.iter_rules()
        if rule.endpoint != "static"
        for method in sorted((rule.methods or set()) - {"HEAD", "OPTIONS"})
    ]
    assert ("POST", "/webhooks/jsm") in routes
    assert [r for r in routes if not _route_pattern(*r).search(text)] == []


def test_route_pattern_tells_a_list_from_its_items() -> None:
    pattern = _route_pattern("GET", "/forge/v1/runs")
    assert pattern.search("`GET /forge/v1/runs?space_key=`")
    assert not pattern.search("`GET /forge/v1/runs/{run_id}`")
    assert _route_pattern("GET", "/x/report.<ext>").search("`GET /x/report.{json,md}`")
