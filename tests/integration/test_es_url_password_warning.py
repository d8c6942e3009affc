"""A password in --es-url (issue 15, item 14): the README says secrets never go in flags (`ps`
shows them to every user), yet it was taken silently. It still works, with one warning line on
stderr that masks the password and names the environment variables to use instead."""

from __future__ import annotations

import json
import pathlib

import pytest

from tests.conftest import SEEDS
from tests.integration.test_cli import wirewatch

pytestmark = pytest.mark.integration

PASSWORD = "h2-Pa55word-never-shown"


def test_a_password_in_es_url_is_warned_about_and_never_printed(
    es_url: str, es_prefix: str, tmp_path: pathlib.Path
):
    # The node has security off: it ignores the credentials, so the commands themselves succeed.
    with_password = es_url.replace("://", f"://elastic:{PASSWORD}@", 1)
    masked = es_url.replace("://", "://elastic:***@", 1)
    for args in (["run", "--seeds", str(SEEDS), "--json"], ["stats", "--json"], ["es", "status", "--json"]):
        result = wirewatch(*args, "--es-url", with_password, "--es-index-prefix", es_prefix, cwd=tmp_path)
        assert result.returncode == 0, result.stderr
        assert PASSWORD not in result.stderr + result.stdout
        warnings = [line for line in result.stderr.splitlines() if "carries a password" in line]
        assert warnings == [
            f"WARNING wirewatch: --es-url {masked} carries a password, visible to every user of this "
            "machine in `ps`: set ELASTICSEARCH_USERNAME and ELASTICSEARCH_PASSWORD "
            "(or ELASTICSEARCH_PASSWORD_FILE) instead"
        ], args
        json.loads(result.stdout)  # the warning stays off stdout

    plain = wirewatch("stats", "--es-url", es_url, "--es-index-prefix", es_prefix, cwd=tmp_path)
    assert plain.returncode == 0
    assert "carries a password" not in plain.stderr
