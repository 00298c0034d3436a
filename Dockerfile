# User-code image: the cadbusi_assets package and its dependencies, serving the code location
# over gRPC (`dagster code-server start`). Run workers use the same image.
# CPU torch by default; for a GPU image pass --build-arg TORCH_INDEX=https://download.pytorch.org/whl/cu126
FROM python:3.11-slim-bookworm

ARG TORCH_INDEX=https://download.pytorch.org/whl/cpu
ENV PYTHONDONTWRITEBYTECODE=1 \
    PYTHONUNBUFFERED=1 \
    DAGSTER_HOME=/opt/dagster/dagster_home \
    CADBUSI_DEPLOYMENT=production

RUN apt-get update \
 && apt-get install -y --no-install-recommends tesseract-ocr tesseract-ocr-eng dcmtk \
 && rm -rf /var/lib/apt/lists/*

WORKDIR /opt/dagster/app
COPY pyproject.toml README.md ./
RUN pip install --no-cache-dir --index-url "$TORCH_INDEX" "torch==2.13.0" \
 && mkdir cadbusi_assets cadbusi_demo \
 && touch cadbusi_assets/__init__.py cadbusi_demo/__init__.py \
 && pip install --no-cache-dir . \
 && pip uninstall -y cadbusi_assets && rm -rf cadbusi_assets cadbusi_demo
COPY cadbusi_assets/ ./cadbusi_assets/
COPY cadbusi_demo/ ./cadbusi_demo/
RUN pip install --no-cache-dir --no-deps . && mkdir -p "$DAGSTER_HOME"
COPY deploy/dagster.production.yaml "$DAGSTER_HOME"/dagster.yaml

RUN useradd --create-home --uid 10001 cadbusi && chown -R cadbusi "$DAGSTER_HOME"
USER cadbusi
EXPOSE 4000
CMD ["dagster", "code-server", "start", "-h", "0.0.0.0", "-p", "4000", \
     "-m", "cadbusi_assets.definitions", "--location-name", "cadbusi_assets"]
