{#- Adapter-dispatched helpers so the same model SQL runs on DuckDB and Trino. Integer
    arithmetic on epoch milliseconds is exact on both engines, so time buckets and calendar days
    are computed on `*_ms` columns and only turned into timestamps for display. -#}

{#- Integer division of non-negative integers (DuckDB's `/` returns a double). -#}
{% macro int_div(numerator, denominator) -%}
    {{ return(adapter.dispatch('int_div', 'hazchem')(numerator, denominator)) }}
{%- endmacro %}
{% macro default__int_div(numerator, denominator) -%}
    (cast({{ numerator }} as bigint) / cast({{ denominator }} as bigint))
{%- endmacro %}
{% macro duckdb__int_div(numerator, denominator) -%}
    (cast({{ numerator }} as bigint) // cast({{ denominator }} as bigint))
{%- endmacro %}

{#- Start (ms) of the `step_ms`-long bucket holding epoch-ms `ms` (buckets aligned at the epoch). -#}
{% macro ms_floor(ms, step_ms) -%}
    (cast({{ ms }} as bigint) - mod(cast({{ ms }} as bigint), {{ step_ms }}))
{%- endmacro %}

{#- UTC timestamp (without time zone) of epoch milliseconds. -#}
{% macro ms_to_timestamp(ms) -%}
    {{ return(adapter.dispatch('ms_to_timestamp', 'hazchem')(ms)) }}
{%- endmacro %}
{#- Trino: date_add('millisecond', ...) overflows an int for epoch ms; nanoseconds fit a bigint
    until 2262. -#}
{% macro default__ms_to_timestamp(ms) -%}
    cast(from_unixtime_nanos(cast({{ ms }} as bigint) * 1000000) at time zone 'UTC' as timestamp(3))
{%- endmacro %}
{% macro duckdb__ms_to_timestamp(ms) -%}
    epoch_ms(cast({{ ms }} as bigint))
{%- endmacro %}

{#- Plant calendar day: days since 1970-01-01 of epoch-ms `ms` at UTC + plant_utc_offset_minutes. -#}
{% macro plant_day_index(ms) -%}
    {{ hazchem.int_div(ms ~ ' + ' ~ hazchem.plant_offset_ms(), 86400000) }}
{%- endmacro %}
{% macro plant_offset_ms() -%}
    {{ (var('plant_utc_offset_minutes') | int) * 60000 }}
{%- endmacro %}
{#- Epoch ms of the plant-local midnight that starts day `day_index`. -#}
{% macro plant_day_start_ms(day_index) -%}
    (cast({{ day_index }} as bigint) * 86400000 - {{ hazchem.plant_offset_ms() }})
{%- endmacro %}
{#- The date of a day index (days since 1970-01-01). -#}
{% macro day_index_to_date(day_index) -%}
    cast({{ dbt.dateadd('day', day_index, "cast('1970-01-01' as date)") }} as date)
{%- endmacro %}
{#- The plant calendar date of epoch-ms `ms`. -#}
{% macro plant_date(ms) -%}
    {{ hazchem.day_index_to_date(hazchem.plant_day_index(ms)) }}
{%- endmacro %}

{#- Integers lo..hi inclusive as an array, to `cross join unnest(...) as t(x)`. -#}
{% macro integer_array(lo, hi) -%}
    {{ return(adapter.dispatch('integer_array', 'hazchem')(lo, hi)) }}
{%- endmacro %}
{% macro default__integer_array(lo, hi) -%}
    sequence(cast({{ lo }} as bigint), cast({{ hi }} as bigint))
{%- endmacro %}
{% macro duckdb__integer_array(lo, hi) -%}
    generate_series(cast({{ lo }} as bigint), cast({{ hi }} as bigint))
{%- endmacro %}

{#- Text of a top-level scalar member of a JSON object held as text; null when absent or null. -#}
{% macro json_member_text(json_text, key) -%}
    {{ return(adapter.dispatch('json_member_text', 'hazchem')(json_text, key)) }}
{%- endmacro %}
{% macro default__json_member_text(json_text, key) -%}
    json_extract_scalar({{ json_text }}, '$.{{ key }}')
{%- endmacro %}
{% macro duckdb__json_member_text(json_text, key) -%}
    json_extract_string({{ json_text }}, '$.{{ key }}')
{%- endmacro %}

{#- Number of elements of a JSON array held as text. -#}
{% macro json_array_size(json_text) -%}
    {{ return(adapter.dispatch('json_array_size', 'hazchem')(json_text)) }}
{%- endmacro %}
{% macro default__json_array_size(json_text) -%}
    json_array_length({{ json_text }})
{%- endmacro %}
{% macro duckdb__json_array_size(json_text) -%}
    cast(json_array_length({{ json_text }}) as bigint)
{%- endmacro %}

{#- Value of `value` at the row with the largest `ordering` (rows with a null ordering ignored). -#}
{% macro value_at_max(value, ordering) -%}
    {{ return(adapter.dispatch('value_at_max', 'hazchem')(value, ordering)) }}
{%- endmacro %}
{% macro default__value_at_max(value, ordering) -%}
    max_by({{ value }}, {{ ordering }})
{%- endmacro %}
{% macro duckdb__value_at_max(value, ordering) -%}
    arg_max({{ value }}, {{ ordering }})
{%- endmacro %}

{#- Text key of several columns (composite primary keys), '|'-separated. -#}
{% macro text_key(columns) -%}
    {%- for c in columns -%}
        coalesce(cast({{ c }} as varchar), '')
        {%- if not loop.last %} || '|' || {% endif -%}
    {%- endfor -%}
{%- endmacro %}

{#- The `as_of` date of mart_due_dates: var('as_of') ('YYYY-MM-DD') or the session's current date. -#}
{% macro as_of_date() -%}
    {%- if var('as_of') -%}
        cast('{{ var("as_of") }}' as date)
    {%- else -%}
        current_date
    {%- endif -%}
{%- endmacro %}

{#- The elements of a JSON array held as text, as an array of JSON values to
    `cross join unnest(...) as t(item)`; read each item with json_member_text. A null or empty
    array gives no rows. -#}
{% macro json_array_items(json_text) -%}
    {{ return(adapter.dispatch('json_array_items', 'hazchem')(json_text)) }}
{%- endmacro %}
{% macro default__json_array_items(json_text) -%}
    cast(json_parse({{ json_text }}) as array(json))
{%- endmacro %}
{% macro duckdb__json_array_items(json_text) -%}
    json_extract({{ json_text }}, '$[*]')
{%- endmacro %}

{#- The strings of the array member `key` of a JSON value joined with `separator`, in array order;
    null when the member is absent, null or empty. -#}
{% macro json_string_array_join(json_value, key, separator) -%}
    {%- set join_strings = adapter.dispatch('json_string_array_join', 'hazchem') -%}
    nullif({{ join_strings(json_value, key, separator) }}, '')
{%- endmacro %}
{% macro default__json_string_array_join(json_value, key, separator) -%}
    array_join(
        cast(json_extract({{ json_value }}, '$.{{ key }}') as array(varchar)), {{ separator }}
    )
{%- endmacro %}
{% macro duckdb__json_string_array_join(json_value, key, separator) -%}
    array_to_string(json_extract_string({{ json_value }}, '$.{{ key }}[*]'), {{ separator }})
{%- endmacro %}

{#- The engine's current time as epoch milliseconds (bigint). -#}
{% macro now_ms() -%}
    {{ return(adapter.dispatch('now_ms', 'hazchem')()) }}
{%- endmacro %}
{% macro default__now_ms() -%}
    cast(floor(to_unixtime(current_timestamp) * 1000) as bigint)
{%- endmacro %}
{% macro duckdb__now_ms() -%}
    epoch_ms(current_timestamp)
{%- endmacro %}

{#- Lower-case hex SHA-1 of a text's UTF-8 bytes (hashlib.sha1(text.encode()).hexdigest()). -#}
{% macro sha1_hex(text) -%}
    {{ return(adapter.dispatch('sha1_hex', 'hazchem')(text)) }}
{%- endmacro %}
{% macro default__sha1_hex(text) -%}
    lower(to_hex(sha1(to_utf8({{ text }}))))
{%- endmacro %}
{% macro duckdb__sha1_hex(text) -%}
    sha1({{ text }})
{%- endmacro %}
