#!/usr/bin/env bash
# Builds and runs the project's image with Debian's podman and buildah, where there is no Docker engine and no access
# to mcr.microsoft.com. Stand-ins for Microsoft's dotnet/aspnet and dotnet/sdk images are made from a Debian bookworm
# root file system (debootstrap, from the Debian archive) and the .NET installation on this machine, then the
# repository's Dockerfile is built on them unchanged (its base images are build arguments).
#
#   scripts/container.sh base    the two base images (the root file system is cached: a second run takes seconds)
#   scripts/container.sh build   base, then the project's image ($LOKO_IMAGE, default localhost/loko:latest)
#   scripts/container.sh check   build, then run it: /readyz, a tenant round trip over REST, the non-root user, the
#                                image's HEALTHCHECK, a graceful stop and a restart on the same volume; exits
#                                non-zero when the build or any check fails
#   scripts/container.sh clean   remove the images, the check's leftovers and the cached root file system
#
# Needs root (rootful podman), podman, buildah, debootstrap, runc, curl and jq.
set -euo pipefail
cd "$(dirname "$0")/.."

image=${LOKO_IMAGE:-localhost/loko:latest}
cache=${LOKO_CONTAINER_CACHE:-${XDG_CACHE_HOME:-/var/cache}/loko-container}
mirror=${DEBIAN_MIRROR:-http://deb.debian.org/debian}
dotnet_root=${LOKO_DOTNET_ROOT:-$(dirname "$(readlink -f "$(command -v dotnet)")")}
nuget_packages=${NUGET_PACKAGES:-$HOME/.nuget/packages}
ca_bundle=${LOKO_CA_BUNDLE:-/etc/ssl/certs/ca-certificates.crt}

# What Microsoft's runtime-deps image adds to its distribution: CA certificates, ICU, OpenSSL, time zones (libc,
# libstdc++, libgcc and zlib come with minbase).
packages=ca-certificates,libicu72,libssl3,tzdata
rootfs_tar="$cache/bookworm-minbase-$(sha1sum <<<"$mirror $packages" | cut -c1-12).tar.gz"
app_uid=1654

runtime_version=$(ls "$dotnet_root/shared/Microsoft.NETCore.App" | grep '^10\.' | sort -V | tail -n1)
aspnet_version=$(ls "$dotnet_root/shared/Microsoft.AspNetCore.App" | grep '^10\.' | sort -V | tail -n1)
sdk_version=$(dotnet --version) # the one global.json selects
deps_image=localhost/loko-dotnet/runtime-deps:bookworm
aspnet_image=localhost/loko-dotnet/aspnet:$aspnet_version
sdk_image=localhost/loko-dotnet/sdk:$sdk_version

# crun, podman's default runtime here, refuses hosts with cgroup v1 in hybrid mode; runc runs on them. Podman asks the
# runtime for nofile and nproc limits of 1048576, which a host without CAP_SYS_RESOURCE cannot grant ("error setting
# rlimit type 6/7"), so containers get the limits podman itself runs with: the hard nofile limit, and nproc capped
# at kernel.pid_max (podman 4.3 lowers its own to that).
runtime=${LOKO_OCI_RUNTIME:-runc}
nofile=$(ulimit -Hn)
nproc=$(ulimit -Hu)
pid_max=$(cat /proc/sys/kernel/pid_max)
[[ $nproc == unlimited || $nproc -gt $pid_max ]] && nproc=$pid_max
run_flags=(--runtime "$runtime" --ulimit "nofile=$nofile:$nofile" --ulimit "nproc=$nproc:$nproc")

log() { printf '[container %4ds] %s\n' "$SECONDS" "$*" >&2; }
fail() { log "FAILED: $*"; exit 1; }

# A bookworm minbase root file system with Microsoft's non-root user (app, uid and gid 1654), as a cached tarball.
make_rootfs() {
  [[ -s $rootfs_tar ]] && return
  mkdir -p "$cache"
  local dir
  dir=$(mktemp -d "$cache/rootfs.XXXXXX")
  log "debootstrap bookworm (minbase + $packages) from $mirror"
  if ! debootstrap --variant=minbase --include="$packages" bookworm "$dir" "$mirror" >"$dir.log" 2>&1; then
    tail -n 20 "$dir.log" >&2
    rm -rf "$dir" "$dir.log"
    fail "debootstrap (log above)"
  fi
  chroot "$dir" groupadd --gid=$app_uid app
  chroot "$dir" useradd --no-log-init --uid=$app_uid --gid=$app_uid --create-home app
  # What a slim image leaves out: package caches and lists, manuals, translations, documentation but its licences.
  rm -rf "$dir"/var/cache/apt/*.bin "$dir"/var/cache/apt/archives/*.deb "$dir"/var/lib/apt/lists/* \
    "$dir"/usr/share/man/* "$dir"/usr/share/info/* "$dir"/usr/share/locale/* "$dir"/var/log/bootstrap.log
  find "$dir/usr/share/doc" -type f ! -name copyright -delete
  find "$dir/usr/share/doc" -type d -empty -delete
  tar --numeric-owner --xattrs -C "$dir" --exclude='./dev/*' --exclude='./proc/*' --exclude='./sys/*' -cf - . |
    gzip -1 >"$rootfs_tar.tmp"
  mv "$rootfs_tar.tmp" "$rootfs_tar"
  rm -rf "$dir" "$dir.log"
}

# Stand-ins for mcr.microsoft.com/dotnet/{runtime-deps,aspnet,sdk}:10.0 with the conventions the Dockerfile relies
# on: .NET in /usr/share/dotnet and on PATH through /usr/bin/dotnet, APP_UID naming the non-root user, root by default.
# No RUN step needs an OCI runtime: buildah runs the one command it needs with chroot isolation.
base() {
  if ! podman image exists "$deps_image"; then
    make_rootfs
    log "import $deps_image"
    podman import --quiet \
      --change "ENV APP_UID=$app_uid" --change 'ENV ASPNETCORE_HTTP_PORTS=8080' \
      --change 'ENV DOTNET_RUNNING_IN_CONTAINER=true' --change 'CMD ["bash"]' \
      "$rootfs_tar" "$deps_image" >/dev/null
  fi
  local ctr
  if ! podman image exists "$aspnet_image"; then
    log "make $aspnet_image from $dotnet_root (runtime $runtime_version, ASP.NET Core $aspnet_version)"
    ctr=$(buildah from --pull-never "$deps_image")
    buildah copy --quiet "$ctr" "$dotnet_root/dotnet" "$dotnet_root/LICENSE.txt" "$dotnet_root/ThirdPartyNotices.txt" \
      /usr/share/dotnet/ >/dev/null
    buildah copy --quiet "$ctr" "$dotnet_root/host" /usr/share/dotnet/host >/dev/null
    buildah copy --quiet "$ctr" "$dotnet_root/shared/Microsoft.NETCore.App/$runtime_version" \
      "/usr/share/dotnet/shared/Microsoft.NETCore.App/$runtime_version" >/dev/null
    buildah copy --quiet "$ctr" "$dotnet_root/shared/Microsoft.AspNetCore.App/$aspnet_version" \
      "/usr/share/dotnet/shared/Microsoft.AspNetCore.App/$aspnet_version" >/dev/null
    buildah run --isolation chroot "$ctr" -- ln -s /usr/share/dotnet/dotnet /usr/bin/dotnet
    buildah config --env DOTNET_VERSION="$runtime_version" --env ASPNET_VERSION="$aspnet_version" "$ctr"
    buildah commit --quiet --rm "$ctr" "$aspnet_image" >/dev/null
  fi
  if ! podman image exists "$sdk_image"; then
    log "make $sdk_image from $dotnet_root (SDK $sdk_version)"
    ctr=$(buildah from --pull-never "$aspnet_image")
    local part
    for part in sdk packs sdk-manifests templates; do
      buildah copy --quiet "$ctr" "$dotnet_root/$part" "/usr/share/dotnet/$part" >/dev/null
    done
    buildah config --env DOTNET_SDK_VERSION="$sdk_version" --env DOTNET_NOLOGO=true \
      --env DOTNET_GENERATE_ASPNET_CERTIFICATE=false --env DOTNET_USE_POLLING_FILE_WATCHER=true \
      --env NUGET_XMLDOC_MODE=skip "$ctr"
    buildah commit --quiet --rm "$ctr" "$sdk_image" >/dev/null
  fi
  log "base images: $sdk_image, $aspnet_image"
}

# The repository's Dockerfile on the stand-ins. RUN steps go through runc with podman build's own limits (they
# need no lowering); the host's NuGet package folder is mounted where the SDK stage's restore looks, so libtorch
# (hundreds of MB) is not downloaded again; packages it lacks are fetched from nuget.org into it (host network).
# Restore asks nuget.org for the service index and vulnerability data even then, so the build trusts the host's
# CA bundle: where HTTPS leaves through an intercepting proxy, only the host's bundle holds that proxy's CA.
# Docker format, since the OCI image format has no HEALTHCHECK. No layer cache: committing the SDK stage's layers
# (2.3 GB with the build outputs) cost more here than the restore they would save, and they pile up run after run.
build() {
  base
  mkdir -p "$nuget_packages"
  log "build $image"
  local start=$SECONDS previous
  previous=$(podman image inspect --format '{{.Id}}' "$image" 2>/dev/null || true)
  # Each line with the seconds since the build began; the SDK stage's .NET processes leave diagnostic sockets in
  # /tmp, which podman reports skipping one by one.
  podman build --layers=false --runtime "$runtime" --network host --format docker --pull=never \
    -v "$nuget_packages:/root/.nuget/packages" -v "$ca_bundle:/etc/ssl/certs/ca-certificates.crt:ro" \
    --build-arg SDK_IMAGE="$sdk_image" --build-arg RUNTIME_IMAGE="$aspnet_image" \
    -t "$image" . 2>&1 |
    while IFS= read -r line; do
      [[ $line == *'archive: skipping'*'since it is a socket'* ]] || printf '[build %4ds] %s\n' "$((SECONDS - start))" "$line"
    done
  local id
  id=$(podman image inspect --format '{{.Id}}' "$image")
  # The image this one replaces, untagged now (kept while a container still uses it).
  [[ -z $previous || $previous == "$id" ]] || podman rmi "$previous" >/dev/null 2>&1 || true
  log "built $image in $((SECONDS - start)) s: $(podman image inspect --format '{{.Size}}' "$image" | numfmt --to=si)B"
}

# One name per run: the check removes what it finds under its name.
check_name=loko-check-$$
tenant=container-check

# A container as a deployment runs it: the image's defaults, a data volume, a fixed admin key, ports published on
# loopback (random host ports). Then stopped, started again on the same volume, and stopped. Its HEALTHCHECK is
# run on demand: without systemd podman cannot add the periodic timer and logs so at each start and stop
# (podman 4.3 ignores --health-interval=disable unless the command is given again with --health-cmd).
check() {
  build
  trap remove_check EXIT
  local admin key
  admin=$(head -c 24 /dev/urandom | base64 | tr '+/' '-_')
  podman volume create "$check_name" >/dev/null
  podman create --name "$check_name" "${run_flags[@]}" -p 127.0.0.1::8080 -p 127.0.0.1::8081 \
    -v "$check_name:/data" -e LoKO__AdminKey="$admin" "$image" >/dev/null
  start_until_ready

  key=$(curl -fsS -X POST "$rest/v1/tenants" -H "Authorization: Bearer $admin" -H 'Content-Type: application/json' \
    -d "{\"tenantId\":\"$tenant\",\"preset\":\"minilm-l6\",\"labels\":[\"computers\",\"food\"]}" | jq -er .apiKey) ||
    fail "creating a tenant with the admin key"
  local -a auth=(-H "Authorization: Bearer $key" -H 'Content-Type: application/json')
  curl -fsS -X POST "$rest/v1/tenants/$tenant/examples" "${auth[@]}" -d '[
    {"text":"the compiler crashed again","label":"computers"},
    {"text":"bake for forty minutes","label":"food"},
    {"text":"reboot the server","label":"computers"},
    {"text":"a pinch of salt and some pepper","label":"food"}]' | jq -e '.sequences | length == 4' >/dev/null ||
    fail "posting examples"
  local started=$SECONDS applied=0
  until (( applied == 4 )); do
    (( SECONDS - started < 120 )) || fail "examples applied: $applied of 4 after 120 s"
    sleep 1
    applied=$(curl -fsS "$rest/v1/tenants/$tenant" "${auth[@]}" | jq -er .examplesApplied) || fail "reading the tenant"
  done
  local prediction
  prediction=$(predict "${auth[@]}")
  log "tenant round trip: 4 examples applied in $((SECONDS - started)) s, predicted $prediction"

  # The server process (the container's PID 1; rootful without a user namespace, so its host uid is its own).
  local pid uid user
  pid=$(podman inspect --format '{{.State.Pid}}' "$check_name")
  uid=$(awk '/^Uid:/ { print $2 }' "/proc/$pid/status")
  [[ $uid == "$app_uid" ]] || fail "the server runs as uid $uid, not $app_uid"
  user=$(podman exec "$check_name" id -un)
  [[ $user == app ]] || fail "the image's user is '$user', not app"
  uid=$(podman exec "$check_name" stat -c %u /data/loko.db)
  [[ $uid == "$app_uid" ]] || fail "/data/loko.db belongs to uid $uid, not $app_uid"
  log "the server runs as uid $app_uid (app), and its state in /data is that user's"

  # The image's own HEALTHCHECK command.
  podman image inspect --format '{{json .Config.Healthcheck.Test}}' "$image" | grep -q '/healthz' ||
    fail "the image has no HEALTHCHECK asking /healthz"
  podman healthcheck run "$check_name" || fail "the image's HEALTHCHECK reports the container unhealthy"
  log "the image's HEALTHCHECK passes"

  # A graceful stop checkpoints the tenant into the volume; the next start serves it from there.
  stop_gracefully
  start_until_ready
  local after
  after=$(predict "${auth[@]}")
  [[ $after == "$prediction" ]] || fail "after a restart the tenant predicts $after, before it $prediction"
  curl -fsS "$rest/v1/tenants/$tenant" "${auth[@]}" | jq -e '.examplesApplied == 4 and .checkpointVersion >= 1' >/dev/null ||
    fail "after a restart the tenant is not the checkpointed one"
  log "after a restart on the same volume the tenant predicts the same from its checkpoint"
  stop_gracefully
  log "container check passed"
}

# Starts the check's container, sets rest to its REST address and waits for /readyz.
start_until_ready() {
  local started=$SECONDS
  podman start "$check_name" >/dev/null
  rest=http://$(podman port "$check_name" 8080/tcp)
  until curl -fsS -o /dev/null "$rest/readyz" 2>/dev/null; do
    [[ $(podman inspect --format '{{.State.Running}}' "$check_name") == true ]] || { podman logs "$check_name" >&2; fail "the server exited"; }
    (( SECONDS - started < 180 )) || { podman logs "$check_name" >&2; fail "no /readyz within 180 s"; }
    sleep 1
  done
  log "started $check_name: /readyz on $rest answered 200 after $((SECONDS - started)) s"
}

stop_gracefully() {
  local started=$SECONDS code
  podman stop --time 60 "$check_name" >/dev/null
  code=$(podman inspect --format '{{.State.ExitCode}}' "$check_name")
  [[ $code == 0 ]] || { podman logs --tail 30 "$check_name" >&2; fail "the server exited with $code on SIGTERM"; }
  log "stopped gracefully in $((SECONDS - started)) s"
}

# The tenant's prediction for one text, as {label, probabilities, adapterVersion}.
predict() {
  local answer
  answer=$(curl -fsS -X POST "$rest/v1/tenants/$tenant/predict" "$@" -d '{"text":"my laptop will not boot"}') ||
    fail "predicting"
  jq -ec 'select((.label == "computers" or .label == "food") and .adapterVersion == 4
                 and ((.probabilities.computers + .probabilities.food) - 1 | fabs < 1e-4))
          | {label: .label, probabilities, adapterVersion}' <<<"$answer" || fail "unexpected prediction: $answer"
}

remove_check() {
  podman rm --force --ignore "$check_name" >/dev/null
  podman volume rm --force "$check_name" >/dev/null 2>&1 || true
}

clean() {
  podman ps --all --quiet --filter name='^loko-check-' | xargs -r podman rm --force >/dev/null
  podman volume ls --quiet --filter name='^loko-check-' | xargs -r podman volume rm --force >/dev/null
  podman rmi --ignore "$image" >/dev/null
  podman images --format '{{.Repository}}:{{.Tag}}' | grep '^localhost/loko-dotnet/' | xargs -r podman rmi >/dev/null
  rm -rf "$cache"
}

case ${1:-} in
  base | build | check | clean) ;;
  *) echo "usage: $0 base|build|check|clean" >&2; exit 2 ;;
esac
# Runs on one machine take turns: they share the image's tag and the base images.
mkdir -p "$cache"
exec 9>"$cache/lock"
flock -n 9 || { log "waiting for another run of $0"; flock 9; }
"$1"
