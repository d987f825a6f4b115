# Builds Greenroom on Debian 12 (bookworm), the platform it is developed on,
# with the Swift it is developed with (6.3).
#   target build:   the toolchain and a built package; compose.yaml's tests
#                   service runs the container tests from it (docker-compose
#                   and curl reach the engine through its mounted socket;
#                   enqueue is on the PATH, where the tests run it)
#   target runtime: just the worker and enqueue binaries
# scripts/compose builds the same two roles without a registry from the host's
# build instead (compose/runtime.Containerfile, compose/tests.Containerfile).
FROM swift:6.3-bookworm AS build
RUN apt-get update \
 && apt-get install -y --no-install-recommends librabbitmq-dev libhiredis-dev pkg-config python3-pika docker-compose curl \
 && rm -rf /var/lib/apt/lists/*
WORKDIR /greenroom
COPY Package.swift ./
COPY Sources ./Sources
COPY Tests ./Tests
RUN swift build -c release --product worker && swift build -c release --product enqueue && swift build --build-tests \
 && ln -s /greenroom/.build/debug/enqueue /usr/local/bin/enqueue

FROM swift:6.3-bookworm-slim AS runtime
RUN apt-get update \
 && apt-get install -y --no-install-recommends librabbitmq4 libhiredis0.14 \
 && rm -rf /var/lib/apt/lists/*
COPY --from=build /greenroom/.build/release/worker /greenroom/.build/release/enqueue /usr/local/bin/
ENTRYPOINT []
CMD ["worker"]
