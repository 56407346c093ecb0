{#- round2_ratio(numerator, denominator): exactly Python's `round(numerator / denominator, 2)` for
    integers numerator >= 0, denominator >= 0 (0.0 when the denominator is 0), the rounding that
    pipelines/alarms/kpi.py applies to every KPI ratio. Python rounds the *double* nearest to the
    ratio, half to even, so a plain SQL round() differs on ties: round(18 / 144, 2) is 0.12 in
    Python (0.125 is exact in binary, half to even) and 0.13 in SQL.

    With q = floor(100 n / d) and r = 100 n mod d the ratio lies between q/100 and (q+1)/100:
    - 2r < d or 2r > d: not a tie; the double is far closer to the ratio than to the midpoint
      (the gap is >= 1 / (200 d)), so it rounds like the exact ratio: q or q + 1.
    - 2r = d: the ratio is the midpoint t = m / 200 with m = 2q + 1 odd. Python then rounds the
      double nearest to t: if t is exact in binary (25 divides m) half to even; otherwise up when
      that double is above t. With t in [2^e, 2^(e+1)) the double is round(Y) * 2^(e-52) where
      Y = t * 2^(52-e) = m * 2^(49-e) / 25, so it is above t iff frac(Y) = ((m * 2^(49-e)) mod 25)/25
      is >= 1/2, i.e. the residue is >= 13. 2^k mod 25 repeats every 20 (2^20 = 1 mod 25).
    Integer arithmetic throughout, so DuckDB and Trino give identical results. -#}
{% macro round2_ratio(numerator, denominator) -%}
    {#- nullif: engines may evaluate a CASE's branches eagerly (Trino: "/ by zero") -#}
    {%- set n = 'cast(' ~ numerator ~ ' as bigint)' -%}
    {%- set d = 'nullif(cast(' ~ denominator ~ ' as bigint), 0)' -%}
    {%- set q = hazchem.int_div('100 * ' ~ n, d) -%}
    {%- set r = 'mod(100 * ' ~ n ~ ', ' ~ d ~ ')' -%}
    {%- set m = '(2 * ' ~ q ~ ' + 1)' -%}
    {%- set e = 'cast(floor(log2(cast(' ~ m ~ ' as double) / 200)) as bigint)' -%}
    coalesce(
        cast(
            {{ q }} + case
                when 2 * {{ r }} < {{ d }} then 0
                when 2 * {{ r }} > {{ d }} then 1
                when mod({{ m }}, 25) = 0 then mod({{ q }}, 2)
                when mod(
                    mod({{ m }}, 25)
                    * mod(cast(power(2, mod(49 - {{ e }}, 20)) as bigint), 25),
                    25
                ) >= 13 then 1
                else 0
            end
            as double
        ) / 100,
        cast(0.0 as double)
    )
{%- endmacro %}
