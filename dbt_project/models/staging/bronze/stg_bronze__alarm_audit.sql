-- One row per audit record of the alarm job (audit_id): every operator action it applied or
-- rejected, and every shelve it ended (auto-unshelve), with the episode it acted on and the
-- ISA-18.2 state before and after, as pipelines/alarms/lifecycle.py decided. A replayed record
-- keeps its audit_id; the first landed copy is kept.
with source as (
    select * from {{ source('bronze', 'alarm_audit') }}
),

first_copies as (
    {{ hazchem.first_landed_copy('source', ['audit_id']) }}
),

renamed as (
    select
        audit_id,
        kind as audit_kind,
        enterprise_code,
        hazard_source_code,
        unit_code,
        area_code,
        tag,
        condition,
        episode_id,
        action,
        actor,
        reason,
        comment as action_comment,
        cause,
        measures,
        result as action_result,
        detail as result_detail,
        state_before,
        state_after,
        action_time_ms,
        {{ hazchem.ms_to_timestamp('action_time_ms') }} as action_at,
        reannunciate as is_reannunciated,
        event_date,
        _ingested_at as ingested_at
    from first_copies
)

select * from renamed
