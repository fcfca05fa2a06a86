{#- Counts in a mart cell are at least 1: an empty cell should not exist at all. -#}
{% test positive_count(model, column_name) %}

select {{ column_name }}
from {{ model }}
where {{ column_name }} is null or {{ column_name }} < 1

{% endtest %}
