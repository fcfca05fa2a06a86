{#- ICD-10 codes as the health systems write them (`X95.0`, `X950`, `x95`, ` y87.1 `) reduced
    to the form the ICD-10 external-cause groups are keyed on (seed
    `ref_icd10_external_cause_groups`): trimmed, upper case, no dot, the 3-character
    category, except Y87.1 (sequelae of assault), which keeps its 4th character because
    Y87.0 and Y87.2 are other intents. `X95.0` → `X95`, `Y87.1` → `Y871`, `Y87.0` → `Y87`. -#}
{% macro normalise_icd10(expression) -%}
    {{ return(adapter.dispatch('normalise_icd10', 'observatorio')(expression)) }}
{%- endmacro %}

{% macro postgres__normalise_icd10(expression) -%}
    case
        when left(upper(replace(trim({{ expression }}), '.', '')), 4) = 'Y871' then 'Y871'
        else nullif(left(upper(replace(trim({{ expression }}), '.', '')), 3), '')
    end
{%- endmacro %}

{#- True when a normalised code falls in a group's range: compare as many leading characters
    as the range bound has (3, or 4 for Y871), in plain character order whatever the
    database's collation. -#}
{% macro icd10_code_in_range(code, range_start, range_end) -%}
    {{ return(adapter.dispatch('icd10_code_in_range', 'observatorio')(code, range_start, range_end)) }}
{%- endmacro %}

{% macro postgres__icd10_code_in_range(code, range_start, range_end) -%}
    (
        length({{ code }}) = length({{ range_start }})
        and {{ code }} collate "C" >= {{ range_start }}
        and {{ code }} collate "C" <= {{ range_end }}
    )
{%- endmacro %}
