{#- A model that should stay empty (a to-do list such as mart_offence_code_coverage): every
    row it holds is a failure. Use it with `severity: warn` when the rows are a finding to
    act on, not a reason to stop the build. -#}
{% test has_no_rows(model) %}

select * from {{ model }}

{% endtest %}
