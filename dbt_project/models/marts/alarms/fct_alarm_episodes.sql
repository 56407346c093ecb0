-- One row per alarm episode (报警编号 episode_id): raise -> acknowledge -> clear -> close, with
-- times and durations, as the alarm job decided them (int_alarm_episodes_joined: the `alarms`
-- transitions and the actions `alarm.audit` records as applied). priority_rank orders priorities
-- by severity (seed alarm_priorities: 0 = critical).
with episodes as (
    select * from {{ ref('int_alarm_episodes_joined') }}
),

priorities as (
    select * from {{ ref('alarm_priorities') }}
),

final as (
    select
        episodes.episode_id,
        episodes.tag,
        episodes.condition,
        episodes.alarm_class,
        episodes.priority,
        priorities.priority_rank,
        episodes.enterprise_code,
        episodes.hazard_source_code,
        episodes.unit_code,
        episodes.area_code,
        episodes.limit_value,
        episodes.raise_value,
        episodes.value_unit,
        episodes.is_annunciated,
        episodes.suppressed_by,
        {{ hazchem.plant_date('coalesce(episodes.raised_ms, episodes.cleared_ms)') }}
            as raised_date,
        {{ hazchem.ms_to_timestamp('episodes.raised_ms') }} as raised_at,
        {{ hazchem.ms_to_timestamp('episodes.acknowledged_ms') }} as acknowledged_at,
        episodes.acknowledged_by,
        {{ hazchem.ms_to_timestamp('episodes.cleared_ms') }} as cleared_at,
        {{ hazchem.ms_to_timestamp('episodes.closed_ms') }} as closed_at,
        episodes.closed_by,
        episodes.close_cause,
        episodes.close_measures,
        episodes.comment_count,
        episodes.shelve_count,
        episodes.rejected_action_count,
        cast(episodes.acknowledged_ms - episodes.raised_ms as double) / 1000
            as time_to_acknowledge_s,
        cast(episodes.cleared_ms - episodes.raised_ms as double) / 1000 as active_duration_s,
        cast(episodes.closed_ms - episodes.cleared_ms as double) / 1000 as time_to_close_s,
        cast(episodes.closed_ms - episodes.raised_ms as double) / 1000 as episode_duration_s,
        case
            when episodes.cleared_ms is null then 'active'
            when episodes.closed_ms is null then 'returned'
            else 'closed'
        end as episode_state
    from episodes
    left join priorities
        on episodes.priority = priorities.priority
)

select * from final
