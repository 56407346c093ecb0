{#- Seeds on Trino are created in one CREATE TABLE AS SELECT ... FROM (VALUES ...). Trino's Delta
    Lake connector (476) commits INSERT/DELETE/MERGE only on object stores it can synchronise
    (s3, gs, abfs); on the local file system (`local://`, the local profile) it can only create
    tables. dbt-trino's seeds create an empty table and INSERT, so they are replaced here; the
    result is the same table on every file system. -#}

{% macro trino__create_csv_table(model, agate_table) %}
    {%- set column_override = model['config'].get('column_types', {}) -%}
    {%- set quote_seed_column = model['config'].get('quote_columns', None) -%}
    {%- set columns = [] -%}
    {%- for col_name in agate_table.column_names -%}
        {%- set inferred_type = adapter.convert_type(agate_table, loop.index0) -%}
        {%- do columns.append({
            'name': adapter.quote_seed_column(col_name | string, quote_seed_column),
            'type': column_override.get(col_name, inferred_type),
        }) -%}
    {%- endfor -%}
    {% set sql %}
        create table {{ this.render() }} as
        select
            {%- for column in columns %}
            cast(c{{ loop.index0 }} as {{ column.type }}) as {{ column.name }}
            {%- if not loop.last %},{% endif -%}
            {%- endfor %}
        from (
            values
            {%- for row in agate_table.rows %}
            ({%- for value in row -%}
                {{ hazchem.seed_literal(value) }}{%- if not loop.last %}, {% endif -%}
            {%- endfor -%}){%- if not loop.last %},{% endif -%}
            {%- endfor %}
        ) as seed_rows (
            {%- for column in columns -%}
            c{{ loop.index0 }}{%- if not loop.last %}, {% endif -%}
            {%- endfor -%}
        )
    {% endset %}
    {% call statement('_') -%}
        {{ sql }}
    {%- endcall %}
    {{ return(sql) }}
{% endmacro %}

{#- The rows went in with the CREATE TABLE AS. -#}
{% macro trino__load_csv_rows(model, agate_table) %}
    {{ return('-- rows loaded by create table as select') }}
{% endmacro %}

{#- Replace instead of truncate: DELETE is not available on the local file system. -#}
{% macro trino__reset_csv_table(model, full_refresh, old_relation, agate_table) %}
    {{ adapter.drop_relation(old_relation) }}
    {{ return(create_csv_table(model, agate_table)) }}
{% endmacro %}

{% macro seed_literal(value) -%}
    {%- if value is none -%}
        null
    {%- elif value is sameas true -%}
        true
    {%- elif value is sameas false -%}
        false
    {%- elif value is number -%}
        {{ value }}
    {%- else -%}
        '{{ (value | string) | replace("'", "''") }}'
    {%- endif -%}
{%- endmacro %}
