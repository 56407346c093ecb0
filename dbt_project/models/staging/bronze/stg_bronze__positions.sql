-- One row per person per fix time (人员定位), first landed copy of a re-sent fix kept.
with source as (
    select * from {{ source('bronze', 'positions') }}
),

first_copies as (
    {{ hazchem.first_landed_copy('source', ['person_id', 'event_time_ms']) }}
),

renamed as (
    select
        person_id,
        event_time_ms,
        {{ hazchem.ms_to_timestamp('event_time_ms') }} as event_at,
        tag_id as positioning_tag_id,
        enterprise_code,
        person_type,
        area_code,
        x_m,
        y_m,
        floor as floor_number,
        battery_pct,
        sos as is_sos,
        event_date,
        _ingested_at as ingested_at
    from first_copies
)

select * from renamed
