"""Alarm rules (报警规则): one pure-Python engine for the streaming job, batch replay and the API.

See docs/alarm_semantics.md for the exact rules and the decisions behind them.
"""

from pipelines.alarms.config import CONDITION_ORDER, TagConfig, load_tag_configs
from pipelines.alarms.engine import TagAlarmState, Transition, episode_id
from pipelines.alarms.kpi import alarm_kpis
from pipelines.alarms.replay import replay

__all__ = [
    "CONDITION_ORDER",
    "TagAlarmState",
    "TagConfig",
    "Transition",
    "alarm_kpis",
    "episode_id",
    "load_tag_configs",
    "replay",
]
