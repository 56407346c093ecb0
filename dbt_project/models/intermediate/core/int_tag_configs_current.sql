-- One row per tag: its current configuration. The latest record on the `tags` topic wins (the
-- live configuration, taken whole: a null limit there means "not configured"); tags never
-- published take the plant model's configuration. equipment_id and normal_value come from the
-- plant model only.
{%- set config_columns = [
    'enterprise_code', 'hazard_source_code', 'unit_code', 'area_code', 'description', 'kind',
    'metric_code', 'unit', 'gas', 'range_low', 'range_high', 'limit_ll', 'limit_l', 'limit_h',
    'limit_hh', 'deadband', 'delay_on_s', 'delay_off_s', 'roc_per_min', 'priority_ll',
    'priority_l', 'priority_h', 'priority_hh', 'priority_roc', 'expected_interval_s',
    'stale_after_s', 'flatline_after_s', 'x_m', 'y_m',
] %}

with published as (
    select * from {{ ref('stg_bronze__tags') }}
),

plant_model as (
    select * from {{ ref('stg_reference__tags') }}
),

published_ranked as (
    select
        published.*,
        row_number() over (
            partition by tag
            order by published_at desc, kafka_partition desc, kafka_offset desc
        ) as recency
    from published
),

latest_published as (
    select * from published_ranked
    where recency = 1
),

merged as (
    select
        coalesce(latest_published.tag, plant_model.tag) as tag,
        case
            when latest_published.tag is not null then 'tags_topic'
            else 'plant_model'
        end as config_source,
        {%- for column in config_columns %}
        case
            when latest_published.tag is not null then latest_published.{{ column }}
            else plant_model.{{ column }}
        end as {{ column }},
        {%- endfor %}
        plant_model.equipment_id,
        plant_model.normal_value,
        latest_published.published_at
    from latest_published
    full outer join plant_model
        on latest_published.tag = plant_model.tag
)

select * from merged
