-- One row per four-color risk level change (四色风险等级变更, event_id) of a hazard source, an
-- area or the enterprise: replays of the risk job re-emit the same event_id, the first landed
-- copy is kept. Records written before risk_level v2 carry no event_id; it is derived the way the
-- risk engine derives it (first 20 hex of sha1(object_type:object_code:event_time_ms:level)).
-- factors stay JSON text; cause_summary lists the factors that deducted points, largest
-- deduction first, each with its causes ("factor: cause, cause; factor").
with source as (
    select * from {{ source('bronze', 'risk_levels') }}
),

identified as (
    select
        source.*,
        coalesce(
            source.event_id,
            substr({{ hazchem.sha1_hex(
                "source.object_type || ':' || source.object_code || ':' "
                ~ "|| cast(source.event_time_ms as varchar) || ':' || source.level"
            ) }}, 1, 20)
        ) as change_id
    from source
),

first_copies as (
    {{ hazchem.first_landed_copy('identified', ['change_id']) }}
),

factor_items as (
    select
        first_copies.change_id as event_id,
        {{ hazchem.json_member_text('factor_items.item', 'factor') }} as factor,
        cast({{ hazchem.json_member_text('factor_items.item', 'contribution') }} as double)
            as contribution,
        {{ hazchem.json_string_array_join('factor_items.item', 'causes', "', '") }} as causes
    from first_copies
    cross join unnest({{ hazchem.json_array_items('first_copies.factors') }}) as factor_items (item)
),

cause_summaries as (
    select
        event_id,
        {{ dbt.listagg(
            "factor || coalesce(': ' || causes, '')",
            "'; '",
            "order by contribution, factor"
        ) }} as cause_summary
    from factor_items
    where contribution < 0
    group by event_id
),

renamed as (
    select
        first_copies.change_id as event_id,
        first_copies.object_type,
        first_copies.object_code,
        first_copies.enterprise_code,
        first_copies.level as risk_level,
        first_copies.level_zh as risk_level_zh,
        first_copies.risk_level_code,
        first_copies.previous_level as previous_risk_level,
        first_copies.score,
        first_copies.factors as factors_json,
        cause_summaries.cause_summary,
        first_copies.model_version,
        first_copies.event_time_ms,
        {{ hazchem.ms_to_timestamp('first_copies.event_time_ms') }} as event_at,
        first_copies.event_date,
        first_copies._ingested_at as ingested_at
    from first_copies
    left join cause_summaries
        on first_copies.change_id = cause_summaries.event_id
)

select * from renamed
