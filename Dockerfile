# Production image: the same code as `make run`, with PostgreSQL and Redis supplied by compose.
FROM python:3.11-slim

ENV PYTHONDONTWRITEBYTECODE=1 \
    PYTHONUNBUFFERED=1 \
    HF_HUB_OFFLINE=1 \
    TRANSFORMERS_OFFLINE=1 \
    RESOLVER_DATA_DIR=/data

RUN apt-get update \
    && apt-get install -y --no-install-recommends build-essential curl \
    && rm -rf /var/lib/apt/lists/*

WORKDIR /app
COPY pyproject.toml README.md ./
COPY resolver resolver
COPY support support
COPY knowledge knowledge
COPY agents agents
COPY evals evals
# CPU-only torch first, so the dependency resolver never pulls the CUDA build.
RUN pip install --no-cache-dir "torch==2.13.0" --index-url https://download.pytorch.org/whl/cpu \
    && pip install --no-cache-dir .
COPY templates templates
COPY static static
COPY manage.py ./

RUN useradd --create-home --uid 1000 resolver && mkdir -p /data && chown resolver /data
USER resolver
EXPOSE 8000
CMD ["python", "-m", "uvicorn", "resolver.asgi:application", "--host", "0.0.0.0", "--port", "8000", "--lifespan", "off", "--ws-max-size", "65536"]
