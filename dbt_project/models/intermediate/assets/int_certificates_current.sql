-- One row per certificate or licence: its latest state on the `certificates` topic (证照).
with states as (
    select * from {{ ref('stg_bronze__certificates') }}
),

ranked as (
    select
        states.*,
        row_number() over (
            partition by certificate_id
            order by event_time_ms desc, ingested_at desc
        ) as recency
    from states
),

current_state as (
    select
        certificate_id,
        enterprise_code,
        holder_type,
        holder_id,
        cert_type,
        cert_no,
        issued_by,
        issued_on_ms,
        expires_on_ms,
        status,
        event_time_ms as state_time_ms
    from ranked
    where recency = 1
)

select * from current_state
