# Builds Greenroom on Debian 12 (bookworm), the platform it is developed on.
#   target build:   the toolchain and a built package (runs `swift test`)
#   target runtime: just the worker and enqueue binaries
FROM swift:6.0-bookworm AS build
RUN apt-get update \
 && apt-get install -y --no-install-recommends librabbitmq-dev libhiredis-dev pkg-config python3-pika \
 && rm -rf /var/lib/apt/lists/*
WORKDIR /greenroom
COPY Package.swift ./
COPY Sources ./Sources
COPY Tests ./Tests
RUN swift build -c release --product worker && swift build -c release --product enqueue && swift build --build-tests

FROM swift:6.0-bookworm-slim AS runtime
RUN apt-get update \
 && apt-get install -y --no-install-recommends librabbitmq4 libhiredis0.14 \
 && rm -rf /var/lib/apt/lists/*
COPY --from=build /greenroom/.build/release/worker /greenroom/.build/release/enqueue /usr/local/bin/
ENTRYPOINT []
CMD ["worker"]
