# The startpoints service image. A catalog image made by
#   startpoints assemble ... --base <this image> --tag <catalog image>
# runs the service on its own catalog (/startpoints/catalog) with no arguments.
#
# Built by `make image` (scripts/service-image.sh): startpoints and its dependencies come from a
# wheelhouse built on the host (build/wheelhouse), so nothing is fetched from PyPI inside the
# build. BASE is any Debian-based image with Python 3.11: python:3.11-slim-bookworm where Docker
# Hub can be reached, else a Debian rootfs made by mmdebstrap from Debian's own packages.
ARG BASE=python:3.11-slim-bookworm
FROM ${BASE}

# The commit built, served as /sha: required, so no image ever says "unknown".
ARG SHA=unknown
RUN if [ "${SHA}" = unknown ] || [ -z "${SHA}" ]; then echo "build with --build-arg SHA=<commit>" >&2; exit 1; fi
ENV SHA=${SHA} \
    PYTHONDONTWRITEBYTECODE=1 \
    PYTHONUNBUFFERED=1 \
    PIP_NO_CACHE_DIR=1 \
    HOME=/tmp \
    PATH=/opt/startpoints/bin:/usr/local/sbin:/usr/local/bin:/usr/sbin:/usr/bin:/sbin:/bin

# tini reaps and forwards signals as PID 1; git serves sha7@git-url sources. A base that
# already has both (the mmdebstrap rootfs) needs no apt step.
RUN if ! command -v tini >/dev/null || ! command -v git >/dev/null; then \
      apt-get update \
      && apt-get install -y --no-install-recommends tini git ca-certificates \
      && rm -rf /var/lib/apt/lists/*; \
    fi

COPY build/wheelhouse /wheels
RUN python3 -m venv /opt/startpoints \
 && /opt/startpoints/bin/pip install --no-index --find-links /wheels startpoints \
 && rm -rf /wheels \
 && startpoints --version \
 && install -d -o 10001 -g 10001 /var/lib/startpoints

# /var/lib/startpoints: where a puller keeps its marker and the node's record, on a volume
# (compose) or a host folder (k8s, ECS); a new named volume takes this folder's owner.

# Non-root, and nothing to write but /tmp and the puller's state: run with a read-only root
# filesystem and a tmpfs /tmp (the catalog image is unpacked there).
# Any non-root uid works (cyber-dojo's compose runs its services as nobody, 65534).
USER 10001:10001
WORKDIR /tmp
EXPOSE 4524 4525 4526

HEALTHCHECK --interval=5s --timeout=2s --start-period=5s --retries=3 \
  CMD ["python3", "-c", "import os,sys,urllib.request as u; sys.exit(0 if u.urlopen('http://127.0.0.1:%s/ready' % os.environ.get('PORT', '4524'), timeout=2).status == 200 else 1)"]

ENTRYPOINT ["/usr/bin/tini", "--", "startpoints"]
CMD ["serve", "/startpoints/catalog"]
