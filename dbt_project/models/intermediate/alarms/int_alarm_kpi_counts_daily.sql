-- One row per console (area) per plant calendar day, from the first to the last day with an
-- annunciated alarm event, for every area that has one: the integer counts behind the ISA-18.2
-- KPIs of pipelines/alarms/kpi.py over the period [local midnight, next local midnight),
-- windows aligned at the period start. Like the streaming alarm job, only annunciated
-- transitions count (shelved or unit-suppressed ones are recorded, not annunciated). The KPI
-- constants (window, flood, chattering, stale, top N) come from seed alarm_kpi_definitions,
-- generated from kpi.py; a standing (stale) alarm is an episode the job annunciated when it
-- raised and had not cleared at the day end (int_alarm_episodes_joined), not a re-derived
-- lifecycle. fct_alarm_kpis_daily turns the counts into the KPI ratios.
with alarm_events as (
    select * from {{ ref('stg_bronze__alarms') }}
    where is_annunciated
),

conditions as (
    select * from {{ ref('alarm_conditions') }}
),

kpi as (
    select * from {{ ref('alarm_kpi_definitions') }}
),

standing as (
    -- episodes the job annunciated when they were raised: active from the raise to their clear
    select
        area_code,
        tag,
        condition,
        raised_ms as active_from_ms,
        cleared_ms as cleared_at_ms
    from {{ ref('int_alarm_episodes_joined') }}
    where raised_ms is not null and is_annunciated
),

event_days as (
    select
        area_code,
        {{ hazchem.plant_day_index('event_time_ms') }} as day_index
    from alarm_events
),

day_bounds as (
    select
        min(day_index) as first_day,
        max(day_index) as last_day
    from event_days
),

consoles as (
    select distinct area_code from event_days
),

periods as (
    select
        consoles.area_code,
        days.day_index,
        {{ hazchem.plant_day_start_ms('days.day_index') }} as period_start_ms,
        {{ hazchem.plant_day_start_ms('days.day_index') }} + 86400000 as period_end_ms,
        -- a partial last window counts as a window (kpi.alarm_kpis)
        {{ hazchem.int_div('86400000 + kpi.window_ms - 1', 'kpi.window_ms') }} as windows
    from consoles
    cross join day_bounds
    cross join kpi
    cross join
        unnest({{ hazchem.integer_array('day_bounds.first_day', 'day_bounds.last_day') }})
        as days (day_index)
),

raised_events as (
    select
        area_code,
        tag,
        condition,
        priority,
        event_time_ms,
        {{ hazchem.plant_day_index('event_time_ms') }} as day_index
    from alarm_events
    where event = 'raised'
),

raises as (
    select
        raised_events.*,
        {{ hazchem.int_div(
            'raised_events.event_time_ms - ' ~ hazchem.plant_day_start_ms('raised_events.day_index'),
            'kpi.window_ms'
        ) }} as window_index
    from raised_events
    cross join kpi
),

window_counts as (
    select
        area_code,
        day_index,
        window_index,
        count(*) as raised_count
    from raises
    group by area_code, day_index, window_index
),

window_stats as (
    select
        window_counts.area_code,
        window_counts.day_index,
        max(window_counts.raised_count) as max_per_10min,
        sum(case when window_counts.raised_count >= kpi.flood_min_raised then 1 else 0 end)
            as flood_windows
    from window_counts
    cross join kpi
    group by window_counts.area_code, window_counts.day_index
),

pair_counts as (
    select
        area_code,
        day_index,
        tag,
        condition,
        count(*) as raised_count
    from raises
    group by area_code, day_index, tag, condition
),

pair_ranks as (
    select
        pair_counts.*,
        row_number() over (
            partition by area_code, day_index
            order by raised_count desc, tag, condition
        ) as frequency_rank
    from pair_counts
),

top10 as (
    select
        pair_ranks.area_code,
        pair_ranks.day_index,
        sum(pair_ranks.raised_count) as top10_raised
    from pair_ranks
    cross join kpi
    where pair_ranks.frequency_rank <= kpi.top_n
    group by pair_ranks.area_code, pair_ranks.day_index
),

raise_runs as (
    select
        area_code,
        day_index,
        tag,
        condition,
        event_time_ms,
        row_number() over (
            partition by area_code, day_index, tag, condition
            order by event_time_ms
        ) as raise_number
    from raises
),

chattering_pairs as (
    -- chatter_raises raises of one pair, the last at most chatter_span_ms after the first
    select distinct
        first_raise.area_code,
        first_raise.day_index,
        first_raise.tag,
        first_raise.condition
    from raise_runs as first_raise
    cross join kpi
    inner join raise_runs as last_raise
        on
            first_raise.area_code = last_raise.area_code
            and first_raise.day_index = last_raise.day_index
            and first_raise.tag = last_raise.tag
            and first_raise.condition = last_raise.condition
            and last_raise.raise_number = first_raise.raise_number + kpi.chatter_raises - 1
    where last_raise.event_time_ms - first_raise.event_time_ms <= kpi.chatter_span_ms
),

stale_pairs as (
    select distinct
        periods.area_code,
        periods.day_index,
        standing.tag,
        standing.condition
    from standing
    cross join kpi
    inner join periods
        on
            standing.area_code = periods.area_code
            and standing.active_from_ms < periods.period_end_ms - kpi.stale_after_ms
            and (
                standing.cleared_at_ms is null
                or standing.cleared_at_ms >= periods.period_end_ms
            )
),

{%- for kind in ['chattering', 'stale'] %}

{{ kind }}_lists as (
    select
        pairs.area_code,
        pairs.day_index,
        count(*) as {{ kind }}_count,
        {{ dbt.listagg(
            "pairs.tag || ':' || pairs.condition",
            "', '",
            "order by pairs.tag, coalesce(conditions.condition_rank, 8), pairs.condition"
        ) }} as {{ kind }}_pairs
    from {{ kind }}_pairs as pairs
    left join conditions
        on pairs.condition = conditions.condition
    group by pairs.area_code, pairs.day_index
),
{%- endfor %}

priority_counts as (
    select
        area_code,
        day_index,
        count(*) as annunciated,
        sum(case when priority = 'critical' then 1 else 0 end) as critical_raised,
        sum(case when priority = 'high' then 1 else 0 end) as high_raised,
        sum(case when priority = 'medium' then 1 else 0 end) as medium_raised,
        sum(case when priority = 'low' then 1 else 0 end) as low_raised,
        sum(case when priority is null then 1 else 0 end) as unprioritised_raised
    from raises
    group by area_code, day_index
),

final as (
    select
        periods.area_code,
        {{ hazchem.day_index_to_date('periods.day_index') }} as report_date,
        periods.period_start_ms,
        periods.period_end_ms,
        periods.windows,
        coalesce(priority_counts.annunciated, 0) as annunciated,
        coalesce(window_stats.max_per_10min, 0) as max_per_10min,
        coalesce(window_stats.flood_windows, 0) as flood_windows,
        coalesce(chattering_lists.chattering_count, 0) as chattering_count,
        coalesce(chattering_lists.chattering_pairs, '') as chattering_pairs,
        coalesce(stale_lists.stale_count, 0) as stale_count,
        coalesce(stale_lists.stale_pairs, '') as stale_pairs,
        coalesce(top10.top10_raised, 0) as top10_raised,
        coalesce(priority_counts.critical_raised, 0) as critical_raised,
        coalesce(priority_counts.high_raised, 0) as high_raised,
        coalesce(priority_counts.medium_raised, 0) as medium_raised,
        coalesce(priority_counts.low_raised, 0) as low_raised,
        coalesce(priority_counts.unprioritised_raised, 0) as unprioritised_raised
    from periods
    {%- for cte in ['window_stats', 'top10', 'chattering_lists', 'stale_lists', 'priority_counts'] %}
    left join {{ cte }}
        on periods.area_code = {{ cte }}.area_code and periods.day_index = {{ cte }}.day_index
    {%- endfor %}
)

select * from final
