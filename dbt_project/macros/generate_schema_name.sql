{#- Custom schemas are used as named (silver, gold), not prefixed with the target schema, so both
    targets expose the same `<catalog>.silver.*` / `<catalog>.gold.*` relations. The optional
    HAZCHEM_DBT__SCHEMA_SUFFIX (e.g. `_alice`, or a test run's id) gives a private copy
    (silver_alice, gold_alice) on a shared Trino. The var gold_schema, when set, is the schema
    the marts are built in instead of gold (the gate's build schema, e.g.
    gold_b20261203t1400001a2b; pipelines/lake/publish.py publishes it only after the checks
    pass). A var, not env_var(): dbt's partial parsing breaks when a macro's env var changes. -#}
{% macro generate_schema_name(custom_schema_name, node) -%}
    {%- set suffix = env_var('HAZCHEM_DBT__SCHEMA_SUFFIX', '') -%}
    {%- set gold_schema = (var('gold_schema', none) or '') | trim -%}
    {%- if custom_schema_name is none -%}
        {{ target.schema }}{{ suffix }}
    {%- elif gold_schema and (custom_schema_name | trim) == 'gold' -%}
        {{ gold_schema }}
    {%- else -%}
        {{ custom_schema_name | trim }}{{ suffix }}
    {%- endif -%}
{%- endmacro %}
