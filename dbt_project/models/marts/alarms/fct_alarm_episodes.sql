-- One row per alarm episode (报警编号 episode_id): raise -> acknowledge -> clear -> close, with
-- times and durations. Acknowledge is the first acknowledge action at or after the raise; close
-- is the first close action at or after the clear that reports cause and measures (the rules of
-- pipelines/alarms/lifecycle.py). Actions without an episode_id count for the condition's
-- current episode at their time.
with alarm_events as (
    select * from {{ ref('stg_bronze__alarms') }}
),

actions as (
    select * from {{ ref('int_alarm_actions_matched') }}
),

episode_times as (
    select
        episode_id,
        min(case when event = 'raised' then event_time_ms end) as raised_ms,
        min(case when event = 'cleared' then event_time_ms end) as cleared_ms
    from alarm_events
    group by episode_id
),

episode_attributes as (
    -- attributes of the raise, or of the clear when the raise is not in the lake
    select
        alarm_events.*,
        row_number() over (
            partition by episode_id
            order by case when event = 'raised' then 0 else 1 end, event_time_ms, event_id
        ) as preference
    from alarm_events
),

acknowledgements as (
    select
        actions.episode_id,
        actions.action_time_ms,
        actions.actor,
        row_number() over (
            partition by actions.episode_id
            order by actions.action_time_ms, actions.action_id
        ) as attempt
    from actions
    inner join episode_times
        on actions.episode_id = episode_times.episode_id
    where
        actions.action = 'acknowledge'
        and (episode_times.raised_ms is null or actions.action_time_ms >= episode_times.raised_ms)
),

closures as (
    select
        actions.episode_id,
        actions.action_time_ms,
        actions.actor,
        actions.cause,
        actions.measures,
        row_number() over (
            partition by actions.episode_id
            order by actions.action_time_ms, actions.action_id
        ) as attempt
    from actions
    inner join episode_times
        on actions.episode_id = episode_times.episode_id
    where
        actions.action = 'close'
        and episode_times.cleared_ms is not null
        and actions.action_time_ms >= episode_times.cleared_ms
        and coalesce(trim(actions.cause), '') <> ''
        and coalesce(trim(actions.measures), '') <> ''
),

action_counts as (
    select
        episode_id,
        sum(case when action = 'comment' then 1 else 0 end) as comment_count,
        sum(case when action = 'shelve' then 1 else 0 end) as shelve_count
    from actions
    where episode_id is not null
    group by episode_id
),

joined as (
    select
        episode_times.episode_id,
        episode_attributes.tag,
        episode_attributes.condition,
        episode_attributes.alarm_class,
        episode_attributes.priority,
        episode_attributes.enterprise_code,
        episode_attributes.hazard_source_code,
        episode_attributes.unit_code,
        episode_attributes.area_code,
        episode_attributes.limit_value,
        episode_attributes.unit as value_unit,
        episode_attributes.is_annunciated,
        episode_attributes.suppressed_by,
        case
            when episode_attributes.event = 'raised' then episode_attributes.value
        end as raise_value,
        episode_times.raised_ms,
        acknowledgements.action_time_ms as acknowledged_ms,
        acknowledgements.actor as acknowledged_by,
        episode_times.cleared_ms,
        closures.action_time_ms as closed_ms,
        closures.actor as closed_by,
        closures.cause as close_cause,
        closures.measures as close_measures,
        coalesce(action_counts.comment_count, 0) as comment_count,
        coalesce(action_counts.shelve_count, 0) as shelve_count
    from episode_times
    inner join episode_attributes
        on
            episode_times.episode_id = episode_attributes.episode_id
            and episode_attributes.preference = 1
    left join acknowledgements
        on episode_times.episode_id = acknowledgements.episode_id and acknowledgements.attempt = 1
    left join closures
        on episode_times.episode_id = closures.episode_id and closures.attempt = 1
    left join action_counts
        on episode_times.episode_id = action_counts.episode_id
),

final as (
    select
        episode_id,
        tag,
        condition,
        alarm_class,
        priority,
        enterprise_code,
        hazard_source_code,
        unit_code,
        area_code,
        limit_value,
        raise_value,
        value_unit,
        is_annunciated,
        suppressed_by,
        {{ hazchem.plant_date('coalesce(raised_ms, cleared_ms)') }} as raised_date,
        {{ hazchem.ms_to_timestamp('raised_ms') }} as raised_at,
        {{ hazchem.ms_to_timestamp('acknowledged_ms') }} as acknowledged_at,
        acknowledged_by,
        {{ hazchem.ms_to_timestamp('cleared_ms') }} as cleared_at,
        {{ hazchem.ms_to_timestamp('closed_ms') }} as closed_at,
        closed_by,
        close_cause,
        close_measures,
        comment_count,
        shelve_count,
        cast(acknowledged_ms - raised_ms as double) / 1000 as time_to_acknowledge_s,
        cast(cleared_ms - raised_ms as double) / 1000 as active_duration_s,
        cast(closed_ms - cleared_ms as double) / 1000 as time_to_close_s,
        cast(closed_ms - raised_ms as double) / 1000 as episode_duration_s,
        case
            when cleared_ms is null then 'active'
            when closed_ms is null then 'returned'
            else 'closed'
        end as episode_state
    from joined
)

select * from final
