# syntax=docker/dockerfile:1
#
# One image for every Rampart service: `rampart serve <services>` picks what
# runs, so the gateway, auth, crm, escalation and audit containers (and the
# one-shot `pki init` and `migrate` jobs) all start from this image.
#
# Build:  docker build -t rampart:dev .
# Run:    see docker-compose.yml and docs/deployment.md.

# --- build the binary --------------------------------------------------------
FROM rust:1.95-bookworm AS builder
WORKDIR /src
# The whole workspace: the binary crate depends on every service crate, and
# protos are compiled in-build (protox), so no system protoc is needed.
COPY . .
RUN --mount=type=cache,target=/usr/local/cargo/registry \
    --mount=type=cache,target=/src/target \
    cargo build --release --locked -p rampart \
 && install -D -m 0755 target/release/rampart /out/usr/local/bin/rampart \
 && install -d -m 0750 /out/var/lib/rampart/pki

# --- a gRPC health probe with mutual TLS ---------------------------------------
# The gRPC services (auth, crm, escalation, audit) serve grpc.health.v1 over
# mutual TLS only, and the runtime image has no shell; `rampart` has no
# health-check subcommand yet, so container health checks and Kubernetes exec
# probes use grpc_health_probe with the service's own certificate.
# The gateway's check asks its admin listener for /readyz with httpcheck
# (deploy/docker/httpcheck.go, the standard library only).
FROM golang:1.24-bookworm AS probe
ENV CGO_ENABLED=0
RUN go install github.com/grpc-ecosystem/grpc-health-probe@v0.4.39
COPY deploy/docker/httpcheck.go /probe/httpcheck.go
RUN go build -trimpath -ldflags=-s -o /go/bin/httpcheck /probe/httpcheck.go

# --- runtime: no shell, no package manager, a numeric non-root user ------------
FROM gcr.io/distroless/cc-debian12:nonroot
COPY --from=builder /out/usr/local/bin/rampart /usr/local/bin/rampart
COPY --from=probe /go/bin/grpc-health-probe /usr/local/bin/grpc_health_probe
COPY --from=probe /go/bin/httpcheck /usr/local/bin/httpcheck
# Owned by the runtime user, so a fresh named volume mounted here is writable
# by `rampart pki init` without a root step.
COPY --from=builder --chown=65532:65532 /out/var/lib/rampart /var/lib/rampart
USER 65532:65532
ENV RAMPART_PKI_DIR=/var/lib/rampart/pki \
    RAMPART_LOG_FORMAT=json
# The edge (8443) and the gateway's admin listener (9464); the gRPC services
# listen on 7001-7004.
EXPOSE 8443 9464 7001 7002 7003 7004
ENTRYPOINT ["rampart"]
CMD ["serve", "gateway", "auth", "crm", "escalation", "audit"]
