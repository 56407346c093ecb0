-- One row per tag configuration record landed from the compacted `tags` topic (every version;
-- int_tag_configs_current picks the latest per tag). Limits and priorities are flattened.
with source as (
    select * from {{ source('bronze', 'tags') }}
),

renamed as (
    select
        {{ hazchem.text_key(['_topic', '_partition', '_offset']) }} as tag_config_record_id,
        {{ hazchem.tag_config_columns() }},
        _kafka_timestamp as published_at,
        _partition as kafka_partition,
        _offset as kafka_offset,
        _ingested_at as ingested_at
    from source
)

select * from renamed
