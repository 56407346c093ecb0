-- One row per inspection check-in (checkin_id), first landed copy kept.
with source as (
    select * from {{ source('bronze', 'inspections') }}
),

first_copies as (
    {{ hazchem.first_landed_copy('source', ['checkin_id']) }}
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
    from first_copies
)

select * from renamed
