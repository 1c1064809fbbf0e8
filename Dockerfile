# The startpoints service image. A catalog image made by
#   startpoints assemble ... --base <this image> --tag <catalog image>
# runs the service on its own catalog (/startpoints/catalog) with no arguments.
FROM python:3.11-slim-bookworm

ARG SHA=unknown
ENV SHA=${SHA} \
    PYTHONDONTWRITEBYTECODE=1 \
    PYTHONUNBUFFERED=1 \
    PIP_NO_CACHE_DIR=1 \
    HOME=/tmp

# tini reaps and forwards signals as PID 1; git serves sha7@git-url sources.
RUN apt-get update \
 && apt-get install -y --no-install-recommends tini git \
 && rm -rf /var/lib/apt/lists/*

COPY pyproject.toml README.md /src/
COPY src /src/src
RUN pip install /src && rm -rf /src

# Non-root, and nothing to write but /tmp: run with a read-only root filesystem and a
# tmpfs /tmp (the catalog image is unpacked there, the pre-pull marker lives there).
USER 10001:10001
WORKDIR /tmp
EXPOSE 4524 4525 4526

HEALTHCHECK --interval=5s --timeout=2s --start-period=5s --retries=3 \
  CMD ["python", "-c", "import os,sys,urllib.request as u; sys.exit(0 if u.urlopen('http://127.0.0.1:%s/ready' % os.environ.get('PORT', '4524'), timeout=2).status == 200 else 1)"]

ENTRYPOINT ["/usr/bin/tini", "--", "startpoints"]
CMD ["serve", "/startpoints/catalog"]
