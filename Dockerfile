# syntax=docker/dockerfile:1
# The ccts image: `docker build -t ccts:dev .`. One image for every subcommand
# (`ccts controller`, `ccts server`, `ccts serve`, ...); deploy/ runs it as UID 10001.
# Node: the same 24 LTS release the tests run on (scripts/install-node24.sh); pin the digest for
# reproducible builds (node:24.x.y-bookworm-slim@sha256:...).

# Build: all dependencies, TypeScript to dist/.
FROM node:24.21.0-bookworm-slim AS build
WORKDIR /app
COPY package.json package-lock.json ./
# --ignore-scripts: "prepare" would compile before src/ is copied; no dependency has install scripts.
RUN npm ci --ignore-scripts --no-audit --no-fund
COPY tsconfig.json ./
COPY src ./src
RUN npm run build

# Production dependencies only.
FROM node:24.21.0-bookworm-slim AS deps
WORKDIR /app
COPY package.json package-lock.json ./
RUN npm ci --omit=dev --ignore-scripts --no-audit --no-fund && npm cache clean --force

# Runtime: node, production node_modules, dist/, the built-in templates (read at run time relative
# to dist/) and the CRDs. package.json is needed for "type": "module".
FROM node:24.21.0-bookworm-slim AS runtime
# Heap sizes for the 512Mi memory limit of deploy/ and the CDKTF stack. A 16 MB young generation:
# V8 otherwise grows it to 64-128 MiB per process (controller at 2,000 Machines: 261 -> 184 MB).
# A 256 MB old generation: without a cap V8 sizes it from the host (or the whole container limit)
# and leaves garbage uncollected up to it (controller at 10,000 Machines: peak 707 -> 385 MB,
# render time unchanged). Live heap is ~10 KB per Machine: above ~15,000 raise both (README).
ENV NODE_ENV=production NODE_OPTIONS="--max-semi-space-size=16 --max-old-space-size=256"
# xorriso builds the ConfigDrive images of GET /configdrive/:mac.iso (no maintained JS ISO writer).
# jemalloc, linked to one path for every architecture: the controller's container preloads it
# (LD_PRELOAD in deploy/ and the CDKTF stack, with MALLOC_CONF returning freed pages at once);
# rendering 10,000 Machines it peaked at 212-260 MiB with it against 262-292 with glibc's malloc.
# The server measured no better with it (bench/README).
# hadolint ignore=DL3008
RUN apt-get update \
 && apt-get install -y --no-install-recommends xorriso libjemalloc2 \
 && ln -s "/usr/lib/$(uname -m)-linux-gnu/libjemalloc.so.2" /usr/local/lib/libjemalloc.so.2 \
 && test -e /usr/local/lib/libjemalloc.so.2 \
 && rm -rf /var/lib/apt/lists/*
WORKDIR /app
COPY --from=deps /app/node_modules ./node_modules
COPY --from=build /app/dist ./dist
COPY package.json ./
COPY templates ./templates
COPY crds ./crds
# Numeric, so Kubernetes can check runAsNonRoot; matches runAsUser in deploy/base.
USER 10001:10001
EXPOSE 8080 9090
ENTRYPOINT ["node", "/app/dist/cli/main.js"]
CMD ["help"]
