-- One row per hidden danger state (danger_id + state time), first landed copy kept.
with source as (
    select * from {{ source('bronze', 'hidden_dangers') }}
),

first_copies as (
    {{ hazchem.first_landed_copy('source', ['danger_id', 'event_time_ms']) }}
),

renamed as (
    select
        danger_id,
        event_time_ms,
        {{ hazchem.ms_to_timestamp('event_time_ms') }} as event_at,
        enterprise_code,
        area_code,
        hazard_source_code,
        title,
        level as danger_level,
        source as found_via,
        found_by,
        found_at_ms,
        deadline_ms,
        status,
        liable_person,
        measures,
        accepted_at_ms,
        event_date,
        _ingested_at as ingested_at
    from first_copies
)

select * from renamed
