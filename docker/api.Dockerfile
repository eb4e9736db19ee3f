# The HTTP API. It never imports torch, but shares the package with the worker, so it installs
# the same dependencies (CPU wheels of torch keep the image small).
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
EXPOSE 8000
CMD ["reassembly", "api", "--host", "0.0.0.0", "--port", "8000"]
