-- One row per console (area) per plant calendar day: the ISA-18.2 / EEMUA 191 alarm KPIs with
-- the definitions and rounding of pipelines/alarms/kpi.py alarm_kpis(area's events, day start,
-- next day start). alarm_rate_band: the first band of seed alarm_rate_bands (generated from
-- kpi.RATE_BANDS, as kpi.alarm_rate_band) whose bound the average per window does not exceed.
with counts as (
    select * from {{ ref('int_alarm_kpi_counts_daily') }}
),

bands as (
    select * from {{ ref('alarm_rate_bands') }}
),

banded as (
    select
        counts.area_code,
        counts.report_date,
        min(bands.band_rank) as band_rank
    from counts
    inner join bands
        on
            bands.max_avg_per_window is null
            or counts.annunciated <= bands.max_avg_per_window * counts.windows
    group by counts.area_code, counts.report_date
),

kpis as (
    select
        counts.area_code,
        counts.report_date,
        {{ hazchem.ms_to_timestamp('counts.period_start_ms') }} as period_start_at,
        {{ hazchem.ms_to_timestamp('counts.period_end_ms') }} as period_end_at,
        counts.annunciated,
        counts.windows,
        {{ hazchem.round2_ratio('counts.annunciated', 'counts.windows') }} as avg_per_10min,
        counts.max_per_10min,
        counts.flood_windows,
        {{ hazchem.round2_ratio('100 * counts.flood_windows', 'counts.windows') }} as flood_pct,
        counts.chattering_count,
        counts.chattering_pairs,
        counts.stale_count,
        counts.stale_pairs,
        {{ hazchem.round2_ratio('100 * counts.top10_raised', 'counts.annunciated') }}
            as top10_share_pct,
        {%- for p in ['critical', 'high', 'medium', 'low'] %}
        {{ hazchem.round2_ratio('100 * counts.' ~ p ~ '_raised', 'counts.annunciated') }}
            as priority_{{ p }}_pct,
        {%- endfor %}
        {{ hazchem.round2_ratio('100 * counts.unprioritised_raised', 'counts.annunciated') }}
            as priority_none_pct,
        bands.alarm_rate_band
    from counts
    inner join banded
        on counts.area_code = banded.area_code and counts.report_date = banded.report_date
    inner join bands
        on banded.band_rank = bands.band_rank
)

select * from kpis
