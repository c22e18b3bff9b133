# motoserver/moto, built here (the chart's dev mode runs it; no registry is reachable):
# moto server at the chart's tag (MOTO_VERSION), its dependencies constrained to the
# versions uv.lock pins (constraints.txt, written by tools/images/build.py), on the same
# base image as the GAS images. Like upstream's image: `moto_server -H 0.0.0.0`, port
# MOTO_PORT (5000); unlike it, a venv and no root needed (the chart runs it as 10001).
ARG PYTHON_IMAGE=python:3.11-slim-bookworm
ARG UV_IMAGE=ghcr.io/astral-sh/uv:0.13.8

FROM ${UV_IMAGE} AS uv

FROM ${PYTHON_IMAGE} AS builder
ARG MOTO_VERSION
COPY --from=uv /uv /usr/local/bin/uv
COPY constraints.txt /tmp/constraints.txt
ENV UV_PYTHON_DOWNLOADS=never UV_LINK_MODE=copy UV_COMPILE_BYTECODE=1
RUN --mount=type=cache,target=/root/.cache/uv \
    test -n "${MOTO_VERSION}" \
 && uv venv --python /usr/local/bin/python3.11 /opt/venv \
 && VIRTUAL_ENV=/opt/venv uv pip install --constraint /tmp/constraints.txt "moto[server]==${MOTO_VERSION}"

FROM ${PYTHON_IMAGE}
ARG MOTO_VERSION
LABEL org.opencontainers.image.title="moto" \
      org.opencontainers.image.version="${MOTO_VERSION}" \
      org.opencontainers.image.description="moto server (local AWS) for GAS dev mode"
ENV PATH=/opt/venv/bin:$PATH \
    PYTHONUNBUFFERED=1 \
    PYTHONDONTWRITEBYTECODE=1
COPY --from=builder /opt/venv /opt/venv
EXPOSE 5000
ENTRYPOINT ["moto_server", "-H", "0.0.0.0"]
