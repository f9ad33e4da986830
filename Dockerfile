# syntax=docker/dockerfile:1
# LoKO server on LibTorch CPU. Build: docker build -t loko .   Run: docker run -p 8080:8080 -p 8081:8081 -v loko-data:/data loko

# The base images are build arguments so an engine without access to mcr.microsoft.com can substitute equivalent
# local ones (scripts/container.sh makes them from Debian's archive and a local .NET installation).
ARG SDK_IMAGE=mcr.microsoft.com/dotnet/sdk:10.0
ARG RUNTIME_IMAGE=mcr.microsoft.com/dotnet/aspnet:10.0

FROM ${SDK_IMAGE} AS build
WORKDIR /src
# Restore from the project files alone, so source edits reuse the (large: libtorch) package layer.
COPY global.json LoKO.sln Directory.Build.props Directory.Build.targets Directory.Packages.props ./
COPY build/ build/
COPY protos/ protos/
COPY src/LoKO.Contracts/LoKO.Contracts.csproj src/LoKO.Contracts/
COPY src/LoKO.Engine/LoKO.Engine.csproj src/LoKO.Engine/
COPY src/LoKO.Server/LoKO.Server.csproj src/LoKO.Server/
RUN dotnet restore src/LoKO.Server/LoKO.Server.csproj -r linux-x64
COPY src/ src/
# Directory.Build.targets patches libLibTorchSharp.so in the publish folder (see build/WeakenElfVersionNeeds.cs).
RUN dotnet publish src/LoKO.Server -c Release -r linux-x64 --self-contained false --no-restore -o /app

FROM ${RUNTIME_IMAGE}
WORKDIR /app
# No extra packages: libtorch brings its own libgomp, and the rest (libstdc++, libgcc) is in the base image.
COPY --from=build /app ./

# REST on 8080 (the image's ASPNETCORE_HTTP_PORTS is cleared: the server binds the URLS addresses itself),
# gRPC on its own HTTP/2-only endpoint on 8081, state in the /data volume.
ENV ASPNETCORE_HTTP_PORTS= \
    ASPNETCORE_URLS=http://0.0.0.0:8080 \
    LoKO__GrpcUrl=http://0.0.0.0:8081 \
    LoKO__DataDirectory=/data \
    LoKO__Orleans__SiloPort=11111 \
    LoKO__Orleans__GatewayPort=30000
RUN mkdir /data && chown "$APP_UID" /data
VOLUME /data
USER $APP_UID

# 11111 and 30000 are the Orleans silo and gateway ports; with the built-in localhost clustering they listen
# on loopback only and are published for multi-silo clustering (see README, "Scaling out").
EXPOSE 8080 8081 11111 30000

# The aspnet image has neither curl nor wget: a plain HTTP/1.0 request through bash's /dev/tcp.
HEALTHCHECK --interval=30s --timeout=5s --start-period=60s --retries=3 \
    CMD ["bash", "-c", "exec 3<>/dev/tcp/127.0.0.1/8080 && printf 'GET /healthz HTTP/1.0\\r\\nHost: localhost\\r\\n\\r\\n' >&3 && head -n1 <&3 | grep -q ' 200 '"]

ENTRYPOINT ["dotnet", "LoKO.Server.dll"]
