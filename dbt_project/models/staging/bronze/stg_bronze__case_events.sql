-- One row per warning-case event (预警处置事件, event_id): opened, level raised, escalated,
-- acknowledged, handled, verified, closed, commented, action rejected. Replays of the risk job
-- re-emit the same event_id; the first landed copy is kept. case_status, case_level, assignee
-- and escalation_level are the case's state after the event.
with source as (
    select * from {{ source('bronze', 'cases') }}
),

first_copies as (
    {{ hazchem.first_landed_copy('source', ['event_id']) }}
),

renamed as (
    select
        event_id,
        case_id,
        seq,
        enterprise_code,
        subject_type,
        subject_code,
        event,
        status as case_status,
        level as case_level,
        assignee,
        escalation_level,
        actor,
        detail,
        action_id,
        event_time_ms,
        {{ hazchem.ms_to_timestamp('event_time_ms') }} as event_at,
        event_date,
        _ingested_at as ingested_at
    from first_copies
)

select * from renamed
