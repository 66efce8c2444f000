# TriTune app image. Same install steps as the Makefile (`make install`).
# torch==2.13.0 from the default index is a CUDA build of several GB; to build a CPU image,
# pass a CPU wheel index with --build-arg PIP_EXTRA_INDEX_URL=...
# llama-cpp-python (the default llamacpp engine) is compiled by pip: build-essential and cmake.
FROM python:3.11-slim

ARG PIP_EXTRA_INDEX_URL=
ENV PIP_EXTRA_INDEX_URL=${PIP_EXTRA_INDEX_URL} \
    PIP_NO_CACHE_DIR=1 \
    HF_HUB_OFFLINE=1 \
    TOKENIZERS_PARALLELISM=false \
    TRITUNE_DATA_DIR=/data

RUN apt-get update \
 && apt-get install -y --no-install-recommends make build-essential cmake nodejs npm \
 && rm -rf /var/lib/apt/lists/*

WORKDIR /app
COPY pyproject.toml README.md Makefile alembic.ini package.json package-lock.json ./
COPY app ./app
COPY migrations ./migrations
COPY templates ./templates
COPY static ./static
RUN make install
COPY data ./data

VOLUME /data
EXPOSE 8000
# setup: migrate, load the demo, train the demo adapter on first start (kept in /data).
CMD ["sh", "-c", ".venv/bin/tritune setup && exec .venv/bin/tritune serve --host 0.0.0.0 --port 8000"]
