-- One row per dead letter (_topic, _partition, _offset), from every `<topic>.dlq` bronze table.
-- The envelope's original bytes (original_b64 / original_text) stay in bronze: they may carry
-- personal or sensitive data and are read there when a record is investigated or replayed.
-- tests/integration/test_dbt_duckdb.py checks this list against infra/kafka/topics.yaml.
{%- set dlq_tables = [
    'readings_dlq', 'tags_dlq', 'video_events_dlq', 'positions_dlq', 'alarms_dlq',
    'alarms_current_dlq', 'alarm_notifications_dlq', 'alarm_audit_dlq', 'alarm_kpis_dlq',
    'security_audit_dlq',
    'readings_late_dlq', 'unit_states_dlq', 'alarm_actions_dlq', 'risk_levels_dlq',
    'risk_current_dlq', 'cases_dlq', 'cases_current_dlq', 'case_actions_dlq',
    'case_notifications_dlq', 'work_permits_dlq', 'work_gas_analyses_dlq', 'inspections_dlq',
    'hidden_dangers_dlq', 'certificates_dlq', 'equipment_dlq', 'dp_risk_units_dlq',
    'dp_risk_events_dlq', 'dp_control_measures_dlq', 'dp_inspection_tasks_dlq',
    'dp_inspection_records_dlq', 'dp_hidden_dangers_dlq', 'dp_shutdowns_dlq',
] %}

with
{% for table in dlq_tables %}
{{ table }} as (
    select
        '{{ table }}' as dlq_table,
        source_topic,
        reason_code,
        reason,
        source,
        key,
        original_size_bytes,
        received_at_ms,
        _topic,
        _partition,
        _offset,
        _kafka_timestamp,
        _ingested_at,
        event_date
    from {{ source('bronze', table) }}
),
{% endfor %}

unioned as (
{%- for table in dlq_tables %}
    select * from {{ table }}
    {%- if not loop.last %}
    union all
    {%- endif %}
{%- endfor %}
),

renamed as (
    select
        {{ hazchem.text_key(['_topic', '_partition', '_offset']) }} as dead_letter_id,
        dlq_table,
        _topic as dlq_topic,
        source_topic,
        reason_code,
        reason,
        source as sender,
        key as original_key,
        original_size_bytes,
        received_at_ms,
        {{ hazchem.ms_to_timestamp('received_at_ms') }} as received_at,
        _kafka_timestamp as kafka_timestamp,
        event_date,
        _ingested_at as ingested_at
    from unioned
)

select * from renamed
