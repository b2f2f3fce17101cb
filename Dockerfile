# The trial image: the `automl` binary on a distroless base, running as the non-root user
# 65532 that the trial Jobs ask for. Build and push it where your cluster can pull it:
#
#   docker build -t ghcr.io/automl-rs/automl:0.1.0 .
#
# (or pass your own tag to `automl run --image`).
FROM rust:1.95-bookworm AS build
WORKDIR /src
COPY . .
RUN cargo build --release --locked -p automl --bin automl

FROM gcr.io/distroless/cc-debian12:nonroot
COPY --from=build /src/target/release/automl /usr/local/bin/automl
USER 65532:65532
ENTRYPOINT ["automl"]
