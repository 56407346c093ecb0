{#- on-run-start (DuckDB only): register every Delta source of the project with the session.
    dbt-duckdb exposes a plugin source as a view over an Arrow dataset registered on the dbt
    connection, and registers it only when a node selected in this invocation calls source().
    A selective run (`dbt run -s fct_readings_1min`) reads the staging views built earlier,
    whose bronze views would then point at datasets this session never registered. -#}
{% macro register_lake_sources() %}
    {%- if execute and target.type == 'duckdb' -%}
        {%- for node in graph.sources.values() -%}
            {%- if node.config.get('meta', {}).get('plugin') or node.meta.get('plugin') -%}
                {%- do source(node.source_name, node.name) -%}
            {%- endif -%}
        {%- endfor -%}
    {%- endif -%}
    select 1
{% endmacro %}
