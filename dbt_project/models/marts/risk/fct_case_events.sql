-- One row per warning-case event (预警处置事件): the audit trail of every case (who, when, what,
-- why), with the case's status, level, assignee and escalation level after the event.
with case_events as (
    select * from {{ ref('stg_bronze__case_events') }}
),

final as (
    select
        event_id,
        case_id,
        seq,
        enterprise_code,
        subject_type,
        subject_code,
        case when subject_type = 'hazard_source' then subject_code end as hazard_source_code,
        event,
        case_status,
        case_level,
        assignee,
        escalation_level,
        actor,
        detail,
        action_id,
        event_time_ms,
        event_at,
        {{ hazchem.plant_date('event_time_ms') }} as event_plant_date
    from case_events
)

select * from final
