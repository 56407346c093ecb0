-- One row per person per fix time (人员定位), first landed copy of a re-sent fix kept.
with source as (
    select * from {{ source('bronze', 'positions') }}
),

ranked as (
    select
        source.*,
        row_number() over (
            partition by person_id, event_time_ms
            order by _ingested_at, _partition, _offset
        ) as copy_number
    from source
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
    from ranked
    where copy_number = 1
)

select * from renamed
