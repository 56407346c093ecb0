-- One row per active span of a tag + condition on one console (area): from the first raise after
-- a clear (or the first raise ever) to the next clear, null while still active, over annunciated
-- transitions (what the alarm job feeds the KPIs). This is the state the stale KPI of
-- pipelines/alarms/kpi.py replays: events in time order, a raise before a clear at the same
-- instant, repeated raises keep the earliest.
with alarm_events as (
    select * from {{ ref('stg_bronze__alarms') }}
),

ordered as (
    select
        area_code,
        tag,
        condition,
        event,
        event_time_ms,
        event_id,
        case when event = 'raised' then 0 else 1 end as event_order
    from alarm_events
    where is_annunciated
),

numbered as (
    select
        ordered.*,
        coalesce(
            sum(case when event = 'cleared' then 1 else 0 end) over (
                partition by area_code, tag, condition
                order by event_time_ms, event_order, event_id
                rows between unbounded preceding and 1 preceding
            ),
            0
        ) as clears_before
    from ordered
),

spans as (
    select
        area_code,
        tag,
        condition,
        clears_before as span_seq,
        min(case when event = 'raised' then event_time_ms end) as active_from_ms,
        max(case when event = 'cleared' then event_time_ms end) as cleared_at_ms
    from numbered
    group by area_code, tag, condition, clears_before
),

final as (
    select
        {{ hazchem.text_key(['area_code', 'tag', 'condition', 'span_seq']) }} as span_id,
        area_code,
        tag,
        condition,
        span_seq,
        active_from_ms,
        cleared_at_ms
    from spans
    where active_from_ms is not null
)

select * from final
