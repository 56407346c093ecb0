{#- Custom schemas are used as named (silver, gold), not prefixed with the target schema, so both
    targets expose the same `<catalog>.silver.*` / `<catalog>.gold.*` relations. The optional
    HAZCHEM_DBT__SCHEMA_SUFFIX (e.g. `_alice`, or a test run's id) gives a private copy
    (silver_alice, gold_alice) on a shared Trino. -#}
{% macro generate_schema_name(custom_schema_name, node) -%}
    {%- set suffix = env_var('HAZCHEM_DBT__SCHEMA_SUFFIX', '') -%}
    {%- if custom_schema_name is none -%}
        {{ target.schema }}{{ suffix }}
    {%- else -%}
        {{ custom_schema_name | trim }}{{ suffix }}
    {%- endif -%}
{%- endmacro %}
