-- One row per case subject (hazard source or enterprise) per plant calendar day with case
-- activity: cases opened, acknowledged and closed that day, how long they took (seconds from
-- opening) and the escalations that day. Each figure belongs to the day its event happened
-- (a case opened on day 1 and closed on day 2 counts as opened on day 1 and closed on day 2), so
-- a finished day never changes. closed_on_time_pct: share (0-100, Python round to 2 decimals) of
-- the day's closures that met the close deadline (fct_cases.closed_on_time); null without one.
with cases as (
    select * from {{ ref('fct_cases') }}
),

case_events as (
    select * from {{ ref('fct_case_events') }}
),

activity as (
    select
        subject_type,
        subject_code,
        enterprise_code,
        opened_ms as event_ms,
        'opened' as activity,
        cast(null as bigint) as elapsed_ms,
        0 as is_on_time
    from cases
    union all
    select
        subject_type,
        subject_code,
        enterprise_code,
        acknowledged_ms as event_ms,
        'acknowledged' as activity,
        acknowledged_ms - opened_ms as elapsed_ms,
        0 as is_on_time
    from cases
    where acknowledged_ms is not null
    union all
    select
        subject_type,
        subject_code,
        enterprise_code,
        closed_ms as event_ms,
        'closed' as activity,
        closed_ms - opened_ms as elapsed_ms,
        case when closed_on_time then 1 else 0 end as is_on_time
    from cases
    where closed_ms is not null
    union all
    select
        subject_type,
        subject_code,
        enterprise_code,
        event_time_ms as event_ms,
        'escalated' as activity,
        cast(null as bigint) as elapsed_ms,
        0 as is_on_time
    from case_events
    where event = 'escalated'
),

activity_days as (
    select
        activity.*,
        {{ hazchem.plant_day_index('event_ms') }} as day_index
    from activity
),

acknowledgement_ranks as (
    select
        subject_type,
        subject_code,
        day_index,
        elapsed_ms,
        row_number() over (
            partition by subject_type, subject_code, day_index
            order by elapsed_ms
        ) as elapsed_rank,
        count(*) over (partition by subject_type, subject_code, day_index) as acknowledged_count
    from activity_days
    where activity = 'acknowledged'
),

acknowledgement_medians as (
    -- the middle value, or the mean of the two middle values (Python's statistics.median)
    select
        subject_type,
        subject_code,
        day_index,
        cast(sum(elapsed_ms) as double) / count(*) / 1000 as p50_time_to_ack_s
    from acknowledgement_ranks
    where
        elapsed_rank in (
            {{ hazchem.int_div('acknowledged_count + 1', 2) }},
            {{ hazchem.int_div('acknowledged_count + 2', 2) }}
        )
    group by subject_type, subject_code, day_index
),

daily as (
    select
        subject_type,
        subject_code,
        enterprise_code,
        day_index,
        {%- for kind in ['opened', 'acknowledged', 'closed'] %}
        sum(case when activity = '{{ kind }}' then 1 else 0 end) as cases_{{ kind }},
        {%- endfor %}
        sum(case when activity = 'closed' then is_on_time else 0 end) as cases_closed_on_time,
        sum(case when activity = 'escalated' then 1 else 0 end) as escalations,
        sum(case when activity = 'acknowledged' then elapsed_ms end) as time_to_ack_ms_sum,
        sum(case when activity = 'closed' then elapsed_ms end) as time_to_close_ms_sum
    from activity_days
    group by subject_type, subject_code, enterprise_code, day_index
),

final as (
    select
        daily.subject_type,
        daily.subject_code,
        daily.enterprise_code,
        case
            when daily.subject_type = 'hazard_source' then daily.subject_code
        end as hazard_source_code,
        {{ hazchem.day_index_to_date('daily.day_index') }} as report_date,
        daily.cases_opened,
        daily.cases_acknowledged,
        daily.cases_closed,
        daily.cases_closed_on_time,
        daily.escalations,
        cast(daily.time_to_ack_ms_sum as double)
        / nullif(daily.cases_acknowledged, 0) / 1000 as avg_time_to_ack_s,
        acknowledgement_medians.p50_time_to_ack_s,
        cast(daily.time_to_close_ms_sum as double)
        / nullif(daily.cases_closed, 0) / 1000 as avg_time_to_close_s,
        case
            when daily.cases_closed > 0
                then {{ hazchem.round2_ratio(
                    '100 * daily.cases_closed_on_time', 'daily.cases_closed'
                ) }}
        end as closed_on_time_pct
    from daily
    left join acknowledgement_medians
        on
            daily.subject_type = acknowledgement_medians.subject_type
            and daily.subject_code = acknowledgement_medians.subject_code
            and daily.day_index = acknowledgement_medians.day_index
)

select * from final
