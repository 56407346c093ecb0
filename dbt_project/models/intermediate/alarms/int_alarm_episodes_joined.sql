-- One row per alarm episode (episode_id) as the alarm job decided it: its raise and clear from the
-- `alarms` topic, joined with the operator actions the job applied to it from `alarm.audit`.
-- Nothing of the lifecycle is re-derived here: which episode an action acted on, whether an
-- acknowledge or a close was allowed, and whether a transition was annunciated are the verdicts
-- of pipelines/alarms/lifecycle.py, landed as they were made.
with alarm_events as (
    select * from {{ ref('stg_bronze__alarms') }}
),

audit as (
    select * from {{ ref('stg_bronze__alarm_audit') }}
    where episode_id is not null
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

applied as (
    select
        audit.*,
        row_number() over (
            partition by episode_id, action
            order by action_time_ms, audit_id
        ) as action_number
    from audit
    where audit_kind = 'action'
),

action_counts as (
    select
        episode_id,
        sum(case when audit_kind = 'action' and action = 'comment' then 1 else 0 end)
            as comment_count,
        sum(case when audit_kind = 'action' and action = 'shelve' then 1 else 0 end)
            as shelve_count,
        sum(case when audit_kind = 'rejected_action' then 1 else 0 end) as rejected_action_count
    from audit
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
        case
            when episode_attributes.event = 'raised' then episode_attributes.value
        end as raise_value,
        episode_attributes.unit as value_unit,
        episode_attributes.is_annunciated,
        episode_attributes.suppressed_by,
        episode_times.raised_ms,
        acknowledgements.action_time_ms as acknowledged_ms,
        acknowledgements.actor as acknowledged_by,
        episode_times.cleared_ms,
        closures.action_time_ms as closed_ms,
        closures.actor as closed_by,
        closures.cause as close_cause,
        closures.measures as close_measures,
        coalesce(action_counts.comment_count, 0) as comment_count,
        coalesce(action_counts.shelve_count, 0) as shelve_count,
        coalesce(action_counts.rejected_action_count, 0) as rejected_action_count
    from episode_times
    inner join episode_attributes
        on
            episode_times.episode_id = episode_attributes.episode_id
            and episode_attributes.preference = 1
    left join applied as acknowledgements
        on
            episode_times.episode_id = acknowledgements.episode_id
            and acknowledgements.action = 'acknowledge'
            and acknowledgements.action_number = 1
    left join applied as closures
        on
            episode_times.episode_id = closures.episode_id
            and closures.action = 'close'
            and closures.action_number = 1
    left join action_counts
        on episode_times.episode_id = action_counts.episode_id
)

select * from joined
