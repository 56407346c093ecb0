"""A streaming job refuses, with one line, a consumer group the ACL table does not let its Kafka
principal use."""

import pytest

from streaming_jobs.runtime import consumer_group


def test_default_prefixed_and_test_prefixed_groups_are_allowed_others_refused(settings):
    """GIVEN the alarm job's principal and default group WHEN a group is requested THEN the
    default, a group starting with it, or (in a prefixed test run) one starting with the topic
    prefix is used; any other exits with a line naming what is allowed."""
    default = settings.flink.consumer_group

    def group(requested, prefix=""):
        return consumer_group(settings, "alarms-job", requested, default, prefix)

    assert group(None) == default
    assert group(default + "-replay") == default + "-replay"
    assert group("t1.alarms", "t1.") == "t1.alarms"
    with pytest.raises(SystemExit, match=rf"group 'mine' is not allowed .* '{default}'"):
        group("mine")
    with pytest.raises(SystemExit, match=r"group 'hazchem-risk' is not allowed"):
        group("hazchem-risk")  # the risk job's group, not the alarm job's
