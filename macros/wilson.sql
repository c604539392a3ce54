{#- Wilson score 95% interval of k successes in n trials: the lower or upper bound, null when n = 0. -#}
{% macro wilson_bound(k, n, side, z=1.959964) -%}
    case when ({{ n }}) > 0 then
        (({{ k }}) / ({{ n }})::double + {{ z }} * {{ z }} / (2.0 * ({{ n }}))
         {{ '-' if side == 'lower' else '+' }} {{ z }} * sqrt(
            ({{ k }}) / ({{ n }})::double * (1 - ({{ k }}) / ({{ n }})::double) / ({{ n }})
            + {{ z }} * {{ z }} / (4.0 * ({{ n }}) * ({{ n }}))))
        / (1 + {{ z }} * {{ z }} / ({{ n }}))
    end
{%- endmacro %}
