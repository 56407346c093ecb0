{#- Fails with one row per duplicated key when the columns together are not unique (composite
    primary keys). Nulls are compared as values, so pair it with not_null on each column. -#}
{% test unique_combination_of_columns(model, combination_of_columns) %}
with keyed as (
    select {{ combination_of_columns | join(', ') }}
    from {{ model }}
),

duplicated as (
    select {{ combination_of_columns | join(', ') }}, count(*) as n_rows
    from keyed
    group by {{ combination_of_columns | join(', ') }}
    having count(*) > 1
)

select * from duplicated
{% endtest %}
