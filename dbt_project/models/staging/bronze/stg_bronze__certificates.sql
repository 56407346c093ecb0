-- One row per certificate state (certificate_id + state time), first landed copy kept.
with source as (
    select * from {{ source('bronze', 'certificates') }}
),

ranked as (
    select
        source.*,
        row_number() over (
            partition by certificate_id, event_time_ms
            order by _ingested_at, _partition, _offset
        ) as copy_number
    from source
),

renamed as (
    select
        certificate_id,
        event_time_ms,
        {{ hazchem.ms_to_timestamp('event_time_ms') }} as event_at,
        enterprise_code,
        holder_type,
        holder_id,
        cert_type,
        cert_no,
        issued_by,
        issued_on_ms,
        expires_on_ms,
        status,
        event_date,
        _ingested_at as ingested_at
    from ranked
    where copy_number = 1
)

select * from renamed
