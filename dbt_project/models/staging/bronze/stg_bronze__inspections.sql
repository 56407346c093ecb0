-- One row per inspection check-in (checkin_id), first landed copy kept.
with source as (
    select * from {{ source('bronze', 'inspections') }}
),

ranked as (
    select
        source.*,
        row_number() over (
            partition by checkin_id
            order by _ingested_at, _partition, _offset
        ) as copy_number
    from source
),

renamed as (
    select
        checkin_id,
        enterprise_code,
        route_id,
        point_id,
        area_code,
        inspector,
        checkin_time_ms,
        {{ hazchem.ms_to_timestamp('checkin_time_ms') }} as checkin_at,
        result as checkin_result,
        note,
        x_m,
        y_m,
        event_date,
        _ingested_at as ingested_at
    from ranked
    where copy_number = 1
)

select * from renamed
