{#- Close deadline of a warning case in ms after its opening: var case_close_within_s x 1000
    (default 86400 s, cases.close_within_s of the risk model). A macro rather than inline
    arithmetic on var() in the model: dbt renders a unit-tested model once without `var`. -#}
{% macro case_close_within_ms() -%}
    {{ (var('case_close_within_s') | int) * 1000 }}
{%- endmacro %}
