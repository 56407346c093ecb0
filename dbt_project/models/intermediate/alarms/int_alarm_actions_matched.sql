-- One row per operator action (action_id) with the alarm episode it acts on: the episode_id it
-- names, else the tag + condition's current (latest raised) episode at the action time, as
-- pipelines/alarms/lifecycle.py applies it; null when the condition had no episode yet (e.g.
-- shelving ahead).
with actions as (
    select * from {{ ref('stg_bronze__alarm_actions') }}
),

raises as (
    select
        episode_id,
        tag,
        condition,
        event_time_ms as raised_ms
    from {{ ref('stg_bronze__alarms') }}
    where event = 'raised'
),

candidates as (
    select
        actions.action_id,
        raises.episode_id,
        row_number() over (
            partition by actions.action_id
            order by raises.raised_ms desc, raises.episode_id desc
        ) as recency
    from actions
    inner join raises
        on
            actions.tag = raises.tag
            and actions.condition = raises.condition
            and raises.raised_ms <= actions.action_time_ms
    where actions.episode_id is null
),

matched as (
    select
        actions.action_id,
        actions.tag,
        actions.condition,
        actions.action,
        actions.actor,
        actions.reason,
        actions.action_comment,
        actions.shelve_duration_s,
        actions.cause,
        actions.measures,
        actions.action_time_ms,
        actions.action_at,
        coalesce(actions.episode_id, candidates.episode_id) as episode_id,
        case
            when actions.episode_id is not null then 'named'
            when candidates.episode_id is not null then 'current_at_action_time'
            else 'none'
        end as episode_match
    from actions
    left join candidates
        on actions.action_id = candidates.action_id and candidates.recency = 1
)

select * from matched
