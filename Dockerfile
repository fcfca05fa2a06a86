# The one image every Airflow service of docker-compose.yml runs: Python 3.11, the pinned
# stack from constraints.txt (Airflow 3.3, dbt 1.11, GX 1.24, Cosmos, the Celery provider)
# and the project installed editable at /opt/observatorio, where compose mounts the checkout.
FROM python:3.11-slim-bookworm

ENV PYTHONDONTWRITEBYTECODE=1 \
    PYTHONUNBUFFERED=1 \
    PIP_NO_CACHE_DIR=1 \
    PIP_DISABLE_PIP_VERSION_CHECK=1 \
    OBSERVATORIO_HOME=/var/lib/observatorio \
    AIRFLOW_HOME=/var/lib/observatorio/airflow

# curl for the API server's healthcheck; libpq for psycopg2 (Airflow's metadata driver).
RUN apt-get update \
    && apt-get install -y --no-install-recommends curl libpq5 \
    && rm -rf /var/lib/apt/lists/*

WORKDIR /opt/observatorio
# Dependencies first (cached while only the code changes), then the project itself.
COPY pyproject.toml constraints.txt README.md ./
COPY observatorio ./observatorio
COPY ingestion ./ingestion
COPY expectations ./expectations
COPY simulator ./simulator
RUN pip install -c constraints.txt -e '.[celery,fab]'
# The rest the services read (compose mounts the checkout over it; the image also runs alone).
COPY dags ./dags
COPY dbt_project ./dbt_project
COPY extracts ./extracts
COPY profiles ./profiles
# The dbt manifest build_warehouse is rendered from, a build artefact (`dbt parse`, no
# database). docker-compose's airflow-init makes it again for the mounted checkout.
RUN python -m observatorio.transform.manifest

# Not root: uid 50000 as in the official Airflow image. The state volume holds source files
# with names and IDs until retention deletes them: only that user may read it (0700, and a
# umask of 077 for every file the services write).
RUN useradd --uid 50000 --gid 0 --create-home airflow \
    && mkdir -p /var/lib/observatorio/airflow \
    && chown -R 50000:0 /var/lib/observatorio \
    && chmod -R go-rwx /var/lib/observatorio
USER 50000

EXPOSE 8080
ENTRYPOINT ["/bin/sh", "-c", "umask 077 && exec \"$@\"", "--"]
CMD ["airflow", "api-server", "--port", "8080"]
