-- One row per source topic per plant calendar day (of received_at_ms) per rejection reason:
-- how many records were dead-lettered, their bytes and when.
with dead_letters as (
    select * from {{ ref('stg_bronze__dead_letters') }}
),

reasons as (
    select * from {{ ref('dead_letter_reasons') }}
),

dated as (
    select
        dead_letters.*,
        {{ hazchem.plant_date('received_at_ms') }} as report_date
    from dead_letters
),

aggregated as (
    select
        source_topic,
        report_date,
        reason_code,
        count(*) as dead_letter_count,
        sum(original_size_bytes) as original_bytes,
        count(distinct sender) as sender_count,
        min(received_at_ms) as first_received_ms,
        max(received_at_ms) as last_received_ms,
        min(reason) as example_reason
    from dated
    group by source_topic, report_date, reason_code
),

final as (
    select
        aggregated.source_topic,
        aggregated.report_date,
        aggregated.reason_code,
        reasons.reason_name_en,
        reasons.reason_name_zh,
        aggregated.dead_letter_count,
        aggregated.original_bytes,
        aggregated.sender_count,
        {{ hazchem.ms_to_timestamp('aggregated.first_received_ms') }} as first_received_at,
        {{ hazchem.ms_to_timestamp('aggregated.last_received_ms') }} as last_received_at,
        aggregated.example_reason
    from aggregated
    left join reasons
        on aggregated.reason_code = reasons.reason_code
)

select * from final
