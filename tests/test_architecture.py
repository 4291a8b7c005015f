"""The checks that keep the architecture (`make lint`), seen to hold today and to fail when the rule is broken."""

import re
import shutil
import subprocess
import sys
from pathlib import Path

import pytest

from shopper.events import AccountEvent
from shopper.orgs.security_log import Event
from shopper.pwa.shell import WORKER, shell_version

ROOT = Path(__file__).resolve().parent.parent
LINT_IMPORTS = Path(sys.executable).with_name("lint-imports")


def lint_imports(root: Path) -> subprocess.CompletedProcess:
    # No cache: a copy of the package must be read afresh.
    return subprocess.run(
        [str(LINT_IMPORTS), "--no-cache"], cwd=root, capture_output=True, text=True, timeout=120, check=False
    )


@pytest.fixture(scope="module")
def checkout_copy(tmp_path_factory):
    """The package and its import-linter configuration, copied, so a test may break a rule in the copy."""
    copy = tmp_path_factory.mktemp("checkout")
    shutil.copytree(ROOT / "shopper", copy / "shopper", ignore=shutil.ignore_patterns("__pycache__"))
    shutil.copy(ROOT / "pyproject.toml", copy / "pyproject.toml")
    return copy


@pytest.mark.skipif(not LINT_IMPORTS.exists(), reason="import-linter is installed with the test extra")
def test_every_import_contract_is_kept(checkout_copy):
    result = lint_imports(checkout_copy)
    assert result.returncode == 0, result.stdout
    assert re.search(r"Contracts: (\d+) kept, 0 broken", result.stdout)


@pytest.mark.skipif(not LINT_IMPORTS.exists(), reason="import-linter is installed with the test extra")
@pytest.mark.parametrize(
    ("module", "line", "broken"),
    [
        # the cycles issue 14 named, each brought back in one line
        ("clients/portfolio.py", "from shopper.dashboard import charts", "shopper.clients is not allowed to import"),
        ("checklists/sharing.py", "from shopper.audits import models", "shopper.checklists is not allowed to import"),
        ("orgs/views.py", "from shopper.audits import queries", "shopper.orgs is not allowed to import"),
        ("accounts/service.py", "from shopper.orgs import service", "shopper.accounts is not allowed to import"),
        ("audits/views.py", "from shopper.reports import rendering", "shopper.audits is not allowed to import"),
        # a service that reaches for a view, a model for a service, a domain module for Flask
        ("audits/service.py", "from shopper.audits import views", "shopper.audits.service is not allowed to import"),
        ("actions/models.py", "from shopper.actions import service", "shopper.actions.models is not allowed to"),
        ("checklists/scoring.py", "import flask", "shopper.checklists.scoring is not allowed to import flask"),
        ("reports/context.py", "from flask import request", "shopper.reports.context is not allowed to import flask"),
    ],
)
def test_an_import_against_the_rules_breaks_a_contract(checkout_copy, module, line, broken):
    path = checkout_copy / "shopper" / module
    original = path.read_text()
    try:
        path.write_text(f"{original}\n{line}  # noqa\n")
        result = lint_imports(checkout_copy)
    finally:
        path.write_text(original)
    assert result.returncode == 1
    assert broken in result.stdout, result.stdout


def test_the_account_events_are_events_of_the_security_log():
    assert {kind.value for kind in AccountEvent} <= {kind.value for kind in Event}


def test_the_service_worker_is_the_static_file_after_the_servers_lines(client):
    served = client.get("/sw.js").get_data(as_text=True)
    source = (ROOT / "static" / WORKER).read_text()
    head, _, rest = served.partition("\n\n")
    assert rest == source
    assert head.splitlines()[0] == '"use strict";'
    assert [line.partition(" = ")[0] for line in head.splitlines()[1:4]] == [
        "const VERSION",
        "const SHELL_URLS",
        "const OFFLINE_URL",
    ]
    assert head.splitlines()[4].startswith('importScripts("/static/js/outbox.js?v=')
    assert "{{" not in source and "{%" not in source  # no template left in it
    assert not (ROOT / "templates" / "pwa" / "sw.js").exists()


def test_a_change_to_the_workers_code_changes_the_shell_version(tmp_path):
    static, templates = tmp_path / "static", tmp_path / "templates"
    static.mkdir()
    templates.mkdir()
    (static / WORKER).write_text("self.addEventListener('install', () => {});")

    def version():
        return shell_version.__wrapped__(str(static), str(templates), "")

    first = version()
    (static / WORKER).write_text("self.addEventListener('install', () => self.skipWaiting());")
    assert version() != first
