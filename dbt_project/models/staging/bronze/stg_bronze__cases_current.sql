-- One row per warning case (case_id): the latest snapshot of the compacted `cases.current` topic
-- landed in bronze (latest ingest, then partition and offset). It carries what the risk job's
-- CaseBook decided with the risk model it ran (pipelines/risk/cases.py), notably the close
-- deadline close_due_ms, set when the case opened from cases.close_within_s.
with source as (
    select * from {{ source('bronze', 'cases_current') }}
),

latest as (
    select
        source.*,
        row_number() over (
            partition by case_id
            order by _ingested_at desc, _partition desc, _offset desc
        ) as recency
    from source
),

renamed as (
    select
        case_id,
        enterprise_code,
        subject_type,
        subject_code,
        status as case_status,
        opened_ms,
        close_due_ms,
        closed_ms,
        closed_on_time,
        _ingested_at as ingested_at
    from latest
    where recency = 1
)

select * from renamed
