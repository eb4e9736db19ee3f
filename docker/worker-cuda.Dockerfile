# A CUDA worker for the gpu queue (torch's default Linux wheels are CUDA builds).
FROM nvidia/cuda:13.0.0-runtime-ubuntu24.04
ENV PIP_NO_CACHE_DIR=1 PYTHONUNBUFFERED=1 DEBIAN_FRONTEND=noninteractive
RUN apt-get update && apt-get install -y --no-install-recommends python3.11 python3.11-venv && rm -rf /var/lib/apt/lists/*
RUN python3.11 -m venv /opt/venv
ENV PATH=/opt/venv/bin:$PATH REASSEMBLY_DEVICE=cuda
WORKDIR /app
COPY pyproject.toml README.md ./
COPY api api
COPY worker worker
COPY core core
COPY cli cli
COPY migrations migrations
RUN pip install .
CMD ["reassembly", "worker", "--queues", "gpu", "--concurrency", "1"]
