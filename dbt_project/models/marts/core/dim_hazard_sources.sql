-- One row per major hazard source (重大危险源): GB 18218-2018 grading, 包保 responsibility chain,
-- unit and the substances it holds.
with hazard_sources as (
    select * from {{ ref('stg_reference__hazard_sources') }}
),

units as (
    select * from {{ ref('stg_reference__units') }}
),

substances as (
    select * from {{ ref('stg_reference__substances') }}
),

substance_totals as (
    select
        hazard_source_code,
        count(*) as substance_count,
        {{ dbt.listagg("name_zh", "', '", "order by substance_seq") }} as substance_names_zh,
        sum(design_max_t) as design_max_t_total,
        sum(actual_t) as actual_t_total
    from substances
    group by hazard_source_code
),

final as (
    select
        hazard_sources.hazard_source_code,
        hazard_sources.enterprise_code,
        hazard_sources.hazard_source_name,
        hazard_sources.hazard_source_name_en,
        hazard_sources.hazard_source_kind,
        hazard_sources.unit_code,
        units.unit_name,
        hazard_sources.residents_within_500m,
        hazard_sources.is_major_hazard,
        hazard_sources.gb18218_s,
        hazard_sources.gb18218_r,
        hazard_sources.gb18218_level,
        hazard_sources.gb18218_level_zh,
        hazard_sources.gb18218_alpha,
        hazard_sources.operations_lead,
        hazard_sources.technical_lead,
        hazard_sources.principal_head,
        coalesce(substance_totals.substance_count, 0) as substance_count,
        substance_totals.substance_names_zh,
        substance_totals.design_max_t_total,
        substance_totals.actual_t_total
    from hazard_sources
    left join units
        on hazard_sources.unit_code = units.unit_code
    left join substance_totals
        on hazard_sources.hazard_source_code = substance_totals.hazard_source_code
)

select * from final
