-- One row per four-color risk level change (四色风险等级变更) of a hazard source, an area or the
-- enterprise, valid from its event time until the object's next change (valid_to null while it
-- is the current level). The lake's risk history: which color an object showed when, and why.
with risk_levels as (
    select * from {{ ref('stg_bronze__risk_levels') }}
),

spans as (
    select
        risk_levels.*,
        lead(event_time_ms) over (
            partition by object_type, object_code
            order by event_time_ms, event_id
        ) as valid_to_ms
    from risk_levels
),

final as (
    select
        event_id,
        object_type,
        object_code,
        enterprise_code,
        case when object_type = 'hazard_source' then object_code end as hazard_source_code,
        case when object_type = 'area' then object_code end as area_code,
        risk_level,
        risk_level_zh,
        risk_level_code,
        previous_risk_level,
        score,
        factors_json,
        cause_summary,
        model_version,
        event_time_ms as valid_from_ms,
        valid_to_ms,
        {{ hazchem.ms_to_timestamp('event_time_ms') }} as valid_from,
        {{ hazchem.ms_to_timestamp('valid_to_ms') }} as valid_to,
        {{ hazchem.plant_date('event_time_ms') }} as valid_from_date,
        cast(valid_to_ms - event_time_ms as double) / 1000 as duration_s,
        valid_to_ms is null as is_current
    from spans
)

select * from final
