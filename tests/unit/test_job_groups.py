"""A streaming job refuses, with one line, a consumer group its Kafka principal may not use."""

import pytest

from streaming_jobs.runtime import consumer_group


def test_default_prefixed_and_test_prefixed_groups_are_allowed_others_refused():
    """GIVEN the alarm job's default group WHEN a group is requested THEN the default, a group
    starting with it, or (in a prefixed test run) one starting with the topic prefix is used;
    any other exits with a line naming what is allowed."""
    assert consumer_group(None, "hazchem-alarms", "") == "hazchem-alarms"
    assert consumer_group("hazchem-alarms-replay", "hazchem-alarms", "") == "hazchem-alarms-replay"
    assert consumer_group("t1.alarms", "hazchem-alarms", "t1.") == "t1.alarms"
    with pytest.raises(SystemExit, match=r"group 'mine' is not allowed .* 'hazchem-alarms'"):
        consumer_group("mine", "hazchem-alarms", "")
