"""The directory refuses a pool too small for the deliveries it takes at once (a step holds two connections)."""

from __future__ import annotations

import pytest
from pydantic import ValidationError

from directory.settings import DirectorySettings
from shared.settings import refused


def test_a_pool_smaller_than_three_times_the_prefetch_is_refused_with_both_settings_named() -> None:
    assert DirectorySettings().prefetch * 3 <= DirectorySettings().db_pool_max  # the defaults fit
    with pytest.raises(ValidationError) as small:
        DirectorySettings(prefetch=16, db_pool_max=10)
    said = refused(small.value, DirectorySettings)
    assert "WAMUX_DB_POOL_MAX (10)" in said and "WAMUX_PREFETCH (16)" in said and not said.startswith(":")
