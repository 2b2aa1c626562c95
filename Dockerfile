# Container image for headless runs (`experiment`, `seeds`, `status`, `export`): the image the
# Kubernetes manifests in tools/k8s run, one pod per shard. Not built in CI (the CI machines cannot
# pull base images); see docs/scale-out.md.
#
#   docker build -t leakage-notebooks .                                  # CPU (TorchSharp-cpu)
#   docker build -t leakage-notebooks:cuda --build-arg TORCH_BACKEND=cuda .   # NVIDIA GPUs
#
# The `run` command (notebooks through dotnet-repl) needs the SDK and is not part of this image.

ARG DOTNET_VERSION=10.0
ARG DISTRO=noble

# ---- build: the SDK publishes the CLI with the libtorch natives of the chosen backend
FROM mcr.microsoft.com/dotnet/sdk:${DOTNET_VERSION}-${DISTRO} AS build
ARG TORCH_BACKEND=cpu
WORKDIR /src
# g++ builds the Scalar quarantine (lib/Leakage/Native/ScalarQuarantine.cs) and, where this distribution's
# libstdc++ lacks GLIBCXX_3.4.32 (Debian 12 "bookworm"; not Ubuntu 24.04 "noble", the default), the GLIBCXX shim.
RUN apt-get update && apt-get install -y --no-install-recommends g++ && rm -rf /var/lib/apt/lists/*
COPY global.json Directory.Build.props Directory.Packages.props ./
COPY lib/ lib/
COPY tools/bench/pytorch_reference.py tools/bench/
COPY tools/python/leakage_models.py tools/python/
RUN dotnet publish lib/Leakage.Cli/Leakage.Cli.csproj -c Release -p:TorchBackend=${TORCH_BACKEND} -o /app \
    && test -f /app/Leakage.Cli.dll

# ---- runtime: the .NET runtime, the published CLI, libtorch's natives (runtimes/linux-x64/native)
# and native-compat/ (the Scalar quarantine; the GLIBCXX shim where it was built), loaded by Leakage.Native.
FROM mcr.microsoft.com/dotnet/runtime:${DOTNET_VERSION}-${DISTRO} AS runtime
# SkiaSharp (image panels) needs fontconfig; libgomp comes with libtorch's natives.
RUN apt-get update && apt-get install -y --no-install-recommends libfontconfig1 && rm -rf /var/lib/apt/lists/*
COPY --from=build /app /app
RUN printf '#!/bin/sh\nexec dotnet /app/Leakage.Cli.dll "$@"\n' > /usr/local/bin/leakage && chmod +x /usr/local/bin/leakage
ENV LEAKAGE_CACHE=/tmp/leakage-cache DOTNET_CLI_TELEMETRY_OPTOUT=1
WORKDIR /runs
ENTRYPOINT ["leakage"]
CMD ["--help"]
