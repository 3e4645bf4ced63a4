"""The `public:` block of config.yaml: defaults, and one clear line for a wrong value."""
from __future__ import annotations

import pytest

from damamaya.config import ConfigError, config_from_dict, load_config


def test_the_shipped_config_publishes_no_112_calls():
    public = load_config().public
    assert "emergency" not in public.domains and public.refresh_seconds >= 60


@pytest.mark.parametrize("block,message", [
    ({"domains": ["complaint", "secret"]}, "config: public.domains: unknown domain 'secret'"),
    ({"refresh_seconds": 5}, "config: public.refresh_seconds: Input should be greater than or equal to 60"),
    ({"cache_seconds": 0}, "config: public.cache_seconds: Input should be greater than or equal to 5"),
    ({"cap_sender": "a b,c"}, "config: public.cap_sender: String should match pattern"),
    ({"colour": "red"}, "config: public.colour: unknown key"),
])
def test_wrong_values_are_one_line(block, message):
    with pytest.raises(ConfigError) as err:
        config_from_dict({"public": block})
    assert str(err.value).startswith(message) and "\n" not in str(err.value)
