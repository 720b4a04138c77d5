"""Hypothesis profiles for the fuzz suite (every test here is marked ``fuzz``).

``make test`` runs the ``default`` profile: a few dozen examples per property, seconds in all.
The long profile runs thousands::

    pytest -m fuzz --hypothesis-profile=long
"""

from __future__ import annotations

from pathlib import Path

import pytest
from hypothesis import HealthCheck, settings

_common = dict(deadline=None, suppress_health_check=[HealthCheck.function_scoped_fixture,
                                                     HealthCheck.too_slow, HealthCheck.data_too_large])
settings.register_profile("default", max_examples=25, **_common)
settings.register_profile("long", max_examples=2000, **_common)


def pytest_collection_modifyitems(config, items):
    here = Path(__file__).parent
    for item in items:
        if here in Path(item.fspath).parents:
            item.add_marker(pytest.mark.fuzz)
