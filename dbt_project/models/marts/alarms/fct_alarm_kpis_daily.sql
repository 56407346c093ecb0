-- One row per console (area) per plant calendar day: the ISA-18.2 / EEMUA 191 alarm KPIs with
-- the definitions and rounding of pipelines/alarms/kpi.py alarm_kpis(area's events, day start,
-- next day start).
with counts as (
    select * from {{ ref('int_alarm_kpi_counts_daily') }}
),

kpis as (
    select
        area_code,
        report_date,
        {{ hazchem.ms_to_timestamp('period_start_ms') }} as period_start_at,
        {{ hazchem.ms_to_timestamp('period_end_ms') }} as period_end_at,
        annunciated,
        windows,
        {{ hazchem.round2_ratio('annunciated', 'windows') }} as avg_per_10min,
        max_per_10min,
        flood_windows,
        {{ hazchem.round2_ratio('100 * flood_windows', 'windows') }} as flood_pct,
        chattering_count,
        chattering_pairs,
        stale_count,
        stale_pairs,
        {{ hazchem.round2_ratio('100 * top10_raised', 'annunciated') }} as top10_share_pct,
        {{ hazchem.round2_ratio('100 * critical_raised', 'annunciated') }} as priority_critical_pct,
        {{ hazchem.round2_ratio('100 * high_raised', 'annunciated') }} as priority_high_pct,
        {{ hazchem.round2_ratio('100 * medium_raised', 'annunciated') }} as priority_medium_pct,
        {{ hazchem.round2_ratio('100 * low_raised', 'annunciated') }} as priority_low_pct,
        {{ hazchem.round2_ratio('100 * unprioritised_raised', 'annunciated') }}
            as priority_none_pct,
        -- ISA-18.2 workload bands: ~1 per 10 min (<= 144/day) very likely acceptable,
        -- ~2 per 10 min (<= 288/day) the most an operator can manage.
        case
            when annunciated <= windows then 'very_likely_acceptable'
            when annunciated <= 2 * windows then 'maximum_manageable'
            else 'over_maximum'
        end as alarm_rate_band
    from counts
)

select * from kpis
