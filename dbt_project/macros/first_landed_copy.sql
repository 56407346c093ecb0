{#- The first landed copy of each key of a bronze relation (a source or an earlier CTE).
    Rows sharing a key are copies: re-sent by a producer or replayed by a job. The copy written
    to bronze first (ingest time, then Kafka partition and offset) is kept; copy_number (always
    1) is left in the output. Usage, as a CTE body:
    first_copies as ({{ hazchem.first_landed_copy('source', ['tag', 'event_time_ms']) }}) -#}
{% macro first_landed_copy(relation, keys) -%}
    select *
    from (
        select
            {{ relation }}.*,
            row_number() over (
                partition by {{ keys | join(', ') }}
                order by _ingested_at, _partition, _offset
            ) as copy_number
        from {{ relation }}
    ) as copies
    where copy_number = 1
{%- endmacro %}
