{#- The filter that makes a fact incremental by record: in an incremental build, only the
    records (`key`, a column of the model's rows and of `staging`) that have a row from a batch
    the model has not yet built from; in a full build, nothing (every record).

    Every version of such a record is recomputed, so a correction (a new version), late data
    (a record of an old month in a new batch) and a version re-sent in another file all land
    as a full refresh would have them: the model is `delete+insert` on the record key. What
    changes every record at once (a seed such as the offence code map, a macro, the model
    itself) changes the dbt project's fingerprint, and `build_warehouse` then builds with
    `--full-refresh` (observatorio.transform.builds).

    `within`: the column the key is part of, listed too (macro changed_records_filter).

    A batch counts as built once some row of the model carries it; a batch whose rows were all
    superseded by later copies is looked at again by every build (correct, only slower). -#}
{% macro incremental_records(key, staging, within=none) -%}
    {%- if is_incremental() %}
    where {{ changed_records_filter(key, staging, batches_not_in(this), within=within) }}
    {%- endif %}
{%- endmacro %}


{#- The batches no row of `built` carries, as a condition on `staged.batch_id`: what a model
    (or snapshot) that keeps each row's batch has not yet built from. Those published since
    the last build, as constants (macro batches_since_last_build: a batch an earlier build
    saw was built from by it, or that build failed and is not the last); when the ledger
    cannot say, every batch `built` does not carry, by a semi-join that reads every row. -#}
{% macro batches_not_in(built) -%}
    {%- set since = batches_since_last_build(not_in=built) -%}
    {%- if since is not none -%}
        {{ since }}
    {%- else -%}
        staged.batch_id not in (select distinct built.batch_id from {{ built }} as built)
    {%- endif -%}
{%- endmacro %}


{#- For a model that keeps no batch of its own (an aggregate per record, such as a report's
    registration day): the condition selecting the records (`key`) the batches published since
    the last recorded build changed (macro batches_since_last_build), or '' for every record: in
    a full build, and in an incremental one whose ledger cannot say which batches the last
    build saw (every record recomputed: slower, still right). The model applies it to each of
    its inputs keyed by the record and is `delete+insert` on `key`. -#}
{% macro records_changed_since_last_build(key, staging) -%}
    {%- if is_incremental() -%}
        {%- set unbuilt = batches_since_last_build() -%}
        {%- if unbuilt -%}
            {{ changed_records_filter(key, staging, unbuilt) }}
        {%- endif -%}
    {%- endif -%}
{%- endmacro %}
