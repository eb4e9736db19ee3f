# A CPU worker serving both queues.
FROM python:3.11-slim
ENV PIP_NO_CACHE_DIR=1 PYTHONUNBUFFERED=1
WORKDIR /app
RUN pip install --index-url https://download.pytorch.org/whl/cpu torch==2.14.1 torchvision==0.29.1
COPY pyproject.toml README.md ./
COPY api api
COPY worker worker
COPY core core
COPY cli cli
COPY migrations migrations
RUN pip install .
CMD ["reassembly", "worker", "--queues", "cpu,gpu", "--concurrency", "1"]
