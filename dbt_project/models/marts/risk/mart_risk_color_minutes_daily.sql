-- One row per rated object (hazard source, area, enterprise) per plant calendar day: minutes it
-- showed each of the four colors (红橙黄蓝), from fct_risk_levels. A level counts from its change
-- until the object's next change; the current level counts until the horizon: the end of the
-- plant day `as_of` when that var is set, else the engine's current time. Changes after the
-- horizon are left out. Rows: every day from an object's first rating to the horizon.
with risk_levels as (
    select * from {{ ref('fct_risk_levels') }}
),

horizon as (
    select
        {%- if var('as_of') %}
        {{ hazchem.plant_day_start_ms(
            dbt.datediff("cast('1970-01-01' as date)", hazchem.as_of_date(), 'day') ~ ' + 1'
        ) }} as horizon_ms
        {%- else %}
        {{ hazchem.now_ms() }} as horizon_ms
        {%- endif %}
),

spans as (
    select
        risk_levels.object_type,
        risk_levels.object_code,
        risk_levels.enterprise_code,
        risk_levels.risk_level,
        risk_levels.valid_from_ms as span_start_ms,
        least(coalesce(risk_levels.valid_to_ms, horizon.horizon_ms), horizon.horizon_ms)
            as span_end_ms
    from risk_levels
    cross join horizon
    where risk_levels.valid_from_ms < horizon.horizon_ms
),

span_days as (
    select
        spans.*,
        {{ hazchem.plant_day_index('spans.span_start_ms') }} as first_day,
        {{ hazchem.plant_day_index('spans.span_end_ms - 1') }} as last_day
    from spans
    where spans.span_end_ms > spans.span_start_ms
),

day_pieces as (
    select
        span_days.object_type,
        span_days.object_code,
        span_days.enterprise_code,
        span_days.risk_level,
        days.day_index,
        least(span_days.span_end_ms, {{ hazchem.plant_day_start_ms('days.day_index') }} + 86400000)
        - greatest(span_days.span_start_ms, {{ hazchem.plant_day_start_ms('days.day_index') }})
            as shown_ms
    from span_days
    cross join
        unnest({{ hazchem.integer_array('span_days.first_day', 'span_days.last_day') }})
        as days (day_index)
),

daily as (
    select
        object_type,
        object_code,
        enterprise_code,
        day_index,
        {%- for color in ['red', 'orange', 'yellow', 'blue'] %}
        sum(case when risk_level = '{{ color }}' then shown_ms else 0 end) as {{ color }}_ms,
        {%- endfor %}
        sum(shown_ms) as rated_ms
    from day_pieces
    group by object_type, object_code, enterprise_code, day_index
),

final as (
    select
        object_type,
        object_code,
        enterprise_code,
        {{ hazchem.day_index_to_date('day_index') }} as report_date,
        {%- for color in ['red', 'orange', 'yellow', 'blue'] %}
        cast({{ color }}_ms as double) / 60000 as {{ color }}_minutes,
        {%- endfor %}
        cast(rated_ms as double) / 60000 as rated_minutes,
        case
            when red_ms > 0 then 'red'
            when orange_ms > 0 then 'orange'
            when yellow_ms > 0 then 'yellow'
            else 'blue'
        end as worst_risk_level
    from daily
)

select * from final
