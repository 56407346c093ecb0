-- One row per certificate state (certificate_id + state time), first landed copy kept.
with source as (
    select * from {{ source('bronze', 'certificates') }}
),

first_copies as (
    {{ hazchem.first_landed_copy('source', ['certificate_id', 'event_time_ms']) }}
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
    from first_copies
)

select * from renamed
