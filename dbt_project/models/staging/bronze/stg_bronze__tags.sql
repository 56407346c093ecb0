-- One row per tag configuration record landed from the compacted `tags` topic (every version;
-- int_tag_configs_current picks the latest per tag). Limits and priorities are flattened.
with source as (
    select * from {{ source('bronze', 'tags') }}
),

renamed as (
    select
        {{ hazchem.text_key(['_topic', '_partition', '_offset']) }} as tag_config_record_id,
        tag,
        enterprise_code,
        hazard_source_code,
        unit_code,
        area_code,
        description,
        kind,
        metric_code,
        unit,
        gas,
        range_low,
        range_high,
        cast({{ hazchem.json_member_text('limits', 'll') }} as double) as limit_ll,
        cast({{ hazchem.json_member_text('limits', 'l') }} as double) as limit_l,
        cast({{ hazchem.json_member_text('limits', 'h') }} as double) as limit_h,
        cast({{ hazchem.json_member_text('limits', 'hh') }} as double) as limit_hh,
        deadband,
        delay_on_s,
        delay_off_s,
        roc_per_min,
        {{ hazchem.json_member_text('priority', 'll') }} as priority_ll,
        {{ hazchem.json_member_text('priority', 'l') }} as priority_l,
        {{ hazchem.json_member_text('priority', 'h') }} as priority_h,
        {{ hazchem.json_member_text('priority', 'hh') }} as priority_hh,
        {{ hazchem.json_member_text('priority', 'roc') }} as priority_roc,
        expected_interval_s,
        stale_after_s,
        flatline_after_s,
        x_m,
        y_m,
        _kafka_timestamp as published_at,
        _partition as kafka_partition,
        _offset as kafka_offset,
        _ingested_at as ingested_at
    from source
)

select * from renamed
