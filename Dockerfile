# One image for the worker, the gateway and the one-shot set-up (docker-compose.yml picks the
# command). The state folder is a volume shared by the services (local Partner Center files).
FROM python:3.11-slim
WORKDIR /app
# Every runtime package, direct and transitive, at the version and hash uv.lock pins (no extras:
# no dev server, no test tools). Its own layer: a source change does not reinstall it.
COPY requirements-runtime.lock ./
RUN pip install --no-cache-dir --disable-pip-version-check --require-hashes \
    -r requirements-runtime.lock
COPY pyproject.toml README.md ./
COPY domain domain
COPY contract contract
COPY workflows workflows
COPY activities activities
COPY adapters adapters
COPY gateway gateway
COPY runtime runtime
COPY worker.py cli.py devstack.py prepare.py ./
# The project itself only (its dependencies are all in place above): nothing unpinned is added.
# Bytecode compiled now: the worker (user nobody) cannot write it beside the sources, and the
# workflow sandbox imports the workflow modules again for every workflow instance.
RUN pip install --no-cache-dir --disable-pip-version-check --no-deps . \
    && python -m compileall -q domain contract workflows activities adapters gateway runtime . \
    && mkdir -p /var/lib/csp \
    && chown nobody:nogroup /var/lib/csp
ENV CSP_STATE_DIR=/var/lib/csp \
    PYTHONUNBUFFERED=1
USER nobody
# 8080: gateway; 9464: worker metrics (CSP_METRICS_BIND)
EXPOSE 8080 9464
CMD ["python", "worker.py"]
