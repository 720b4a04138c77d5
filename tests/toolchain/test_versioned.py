"""The one schema/version check every odtool file goes through."""

from __future__ import annotations

import re

import pytest

from toolchain import __version__
from toolchain.versioned import stamped, version_problem


def test_a_stamped_document_passes_its_own_check():
    doc = stamped("odtool.thing", 2, {"a": 1, "schema": "overwritten"})
    assert doc["schema"] == "odtool.thing" and doc["version"] == 2 and doc["created_by"] == f"odtool {__version__}"
    assert doc["a"] == 1
    assert version_problem(doc, "odtool.thing", "thing", newest=2) is None


@pytest.mark.parametrize("doc, match", [
    ([1, 2], "not a thing file"),
    ({"schema": "other", "version": 1}, "schema is 'other', expected 'odtool.thing'"),
    ({"schema": "odtool.thing", "version": "1"}, "thing version '1' is not a version number"),
    ({"schema": "odtool.thing", "version": True}, "not a version number"),
    ({"schema": "odtool.thing", "version": 3}, r"thing version 3 is newer than this odtool understands \(2\)"),
])
def test_each_problem_is_named(doc, match):
    problem = version_problem(doc, "odtool.thing", "thing", newest=2)
    assert problem is not None
    assert re.search(match, problem), problem


def test_a_version_no_longer_supported_says_which_are():
    doc = {"schema": "odtool.thing", "version": 1}
    assert "thing version 1 is not supported by odtool" in version_problem(doc, "odtool.thing", "thing", newest=3,
                                                                            supported=(2, 3))
    assert "(supported: 2, 3)" in version_problem(doc, "odtool.thing", "thing", newest=3, supported=(3, 2))
    assert version_problem(doc, "odtool.thing", "thing", newest=3) is None
