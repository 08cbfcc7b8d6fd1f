# One image for the worker and the gateway (docker-compose.yml picks the command).
FROM python:3.11-slim
WORKDIR /app
COPY pyproject.toml README.md ./
COPY domain domain
COPY workflows workflows
COPY activities activities
COPY adapters adapters
COPY gateway gateway
COPY app app
COPY worker.py ./
RUN pip install --no-cache-dir .
USER nobody
CMD ["python", "worker.py"]
