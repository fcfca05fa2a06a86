{#- The kinds of record that place a person (a national-ID pseudonym) in the warehouse, one
    entry each, read by dim_person_pseudonym and its incremental pre-hook:

    - `kind`, `system`: the record kind and its source system (a code of dim_source_system);
    - `model`, `person`, `seen`: the model holding each record's current row, its pseudonym
      column and the event date the person was seen on;
    - `history`, `history_key`, `history_person`: where every version of the record ever
      loaded is (a staging model keeping every row, or the raw table when staging keeps the
      latest only), the record's id there (the first column of its contract's primary key,
      by which the raw table is indexed: ingestion.loader.ensure_raw_table) and the pseudonym
      there. -#}
{% macro person_record_kinds() -%}
    {{ return([
        {'kind': 'crime_report_victim', 'system': 'police', 'model': ref('fct_crime_reports'),
         'person': 'victim_id_pseudonym', 'seen': 'incident_date',
         'history': ref('stg_interface__crime_events'), 'history_key': 'report_id',
         'history_person': 'victim_id_pseudonym'},
        {'kind': 'detainee', 'system': 'police', 'model': ref('fct_detentions'),
         'person': 'detainee_id_pseudonym', 'seen': 'detention_date',
         'history': ref('stg_police__detentions'), 'history_key': 'detention_id',
         'history_person': 'detainee_id_pseudonym'},
        {'kind': 'case_party', 'system': 'prosecution',
         'model': ref('int_justice_parties_deduplicated'),
         'person': 'person_id_pseudonym', 'seen': 'cast(created_at as date)',
         'history': ref('stg_interface__justice_parties'), 'history_key': 'party_id',
         'history_person': 'person_id_pseudonym'},
        {'kind': 'forensic_death', 'system': 'forensic', 'model': ref('fct_violent_deaths'),
         'person': 'person_id_pseudonym', 'seen': 'death_date',
         'history': source('health', 'health__forensic_deaths'), 'history_key': 'record_id',
         'history_person': 'person_national_id_pseudonym', 'history_batch': '_batch_id'},
        {'kind': 'injury_admission', 'system': 'hospital', 'model': ref('fct_injury_admissions'),
         'person': 'person_id_pseudonym', 'seen': 'admission_date',
         'history': source('health', 'health__hospital_admissions'),
         'history_key': 'admission_id', 'history_person': 'person_national_id_pseudonym',
         'history_batch': '_batch_id'},
    ]) }}
{%- endmacro %}


{#- In an incremental build of dim_person_pseudonym, a select of the pseudonyms whose rows it
    recomputes: every pseudonym any version of a record had (in its kind's `history`), for
    the records the batches since the last recorded build brought (macro
    batches_since_last_build). A person's row changes only when one of their records does,
    and a corrected record may have moved from one pseudonym to another (an ID typed wrong,
    then fixed), so both the old and the new person are recomputed: the old one may have no
    record left. Every version, not only the last build's: the history keeps what the
    current rows no longer show, and a build that failed is simply done again.

    None: every person (a full build, or an incremental one whose ledger cannot say which
    batches the last build saw). The records are listed as constants (macro
    changed_records_filter), read in the history by its index on the record's id. -#}
{% macro person_changes() -%}
    {%- if not execute or not is_incremental() -%}
        {{ return(none) }}
    {%- endif -%}
    {%- set unbuilt = batches_since_last_build() -%}
    {%- if not unbuilt -%}
        {{ return(none) }}
    {%- endif -%}
    {%- set selects = [] -%}
    {%- for k in person_record_kinds() -%}
        {%- set history -%}
            (
                select
                    {{ k.history_key }} as record_id,
                    {{ k.history_person }} as person_id_pseudonym,
                    {{ k.get('history_batch', 'batch_id') }} as batch_id
                from {{ k.history }}
            )
        {%- endset -%}
        {%- set records = changed_records_filter('record_id', history, unbuilt,
            column='versions.record_id') -%}
        {%- do selects.append(
            'select versions.person_id_pseudonym from ' ~ history ~ ' as versions where '
            ~ records ~ ' and versions.person_id_pseudonym is not null'
        ) -%}
    {%- endfor -%}
    {{ return(selects | join('\nunion\n')) }}
{%- endmacro %}


{#- The pre-hook of dim_person_pseudonym in an incremental build: delete the persons it
    recomputes (macro person_changes), every person when it cannot tell which. An array, so
    that PostgreSQL looks them up in the primary key (a semi-join read all 10M persons: 10.5 s
    for 100,000 changed ones; 3.4 s by the key). -#}
{% macro person_changes_deleted() -%}
    {%- if is_incremental() %}
    {%- set changed = person_changes() %}
    delete from {{ this }}
    {%- if changed is not none %}
    where person_id_pseudonym = any(array(
        {{ changed }}
    ))
    {%- endif %};
    {%- endif %}
{%- endmacro %}
