-- One row per operator action on an alarm (action_id), first landed copy kept.
with source as (
    select * from {{ source('bronze', 'alarm_actions') }}
),

first_copies as (
    {{ hazchem.first_landed_copy('source', ['action_id']) }}
),

renamed as (
    select
        action_id,
        enterprise_code,
        tag,
        condition,
        episode_id,
        action,
        actor,
        reason,
        comment as action_comment,
        shelve_duration_s,
        cause,
        measures,
        action_time_ms,
        {{ hazchem.ms_to_timestamp('action_time_ms') }} as action_at,
        event_date,
        _ingested_at as ingested_at
    from first_copies
)

select * from renamed
