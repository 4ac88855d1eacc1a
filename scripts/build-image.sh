#!/usr/bin/env bash
# Builds the kubetrail container image with buildah, without a daemon and without pulling a
# base image: FROM scratch (deploy/image/Containerfile) with a root file system made here from
# a built binary and the shared libraries it links (glibc, libgcc_s), the CA certificates
# and an empty /tmp.
#   scripts/build-image.sh [--binary PATH] [--tag TAG]
# Defaults: target/release/kubetrail (cargo build --release --locked -p kubetrail) and
# localhost/kubetrail:<workspace version>, the image deploy/base/kustomization.yaml names.
# Push it to your registry and point the overlays at it (deploy/README.md, The image).
set -euo pipefail
cd "$(dirname "$0")/.."
version=$(sed -n 's/^version = "\(.*\)"$/\1/p' Cargo.toml | head -1)
binary=target/release/kubetrail
tag="localhost/kubetrail:$version"
while [[ $# -gt 0 ]]; do
  case $1 in
    --binary) binary=$2; shift 2 ;;
    --tag) tag=$2; shift 2 ;;
    *) echo "usage: $0 [--binary PATH] [--tag TAG]" >&2; exit 2 ;;
  esac
done
command -v buildah >/dev/null || { echo "buildah is needed (apt-get install buildah)" >&2; exit 1; }
[[ -x $binary ]] || { echo "no binary at $binary (cargo build --release --locked -p kubetrail)" >&2; exit 1; }

context=$(mktemp -d)
trap 'rm -rf "$context"' EXIT
root=$context/rootfs
mkdir -p "$root/tmp" "$root/var/lib/kubetrail" "$root/etc/ssl/certs"
chmod 1777 "$root/tmp"
# The binary without its debug symbols (a debug build is ~400 MB with them).
strip -o "$root/kubetrail" "$binary"
# Every shared library the binary loads, and the dynamic loader, at the paths it looks them up.
while read -r path; do
  cp --parents -L "$path" "$root"
done < <(ldd "$binary" | grep -o '/[^ ]*' | sort -u)
# TLS to PostgreSQL without a CA file trusts the system's roots (rustls-native-certs).
if [[ -f /etc/ssl/certs/ca-certificates.crt ]]; then
  cp /etc/ssl/certs/ca-certificates.crt "$root/etc/ssl/certs/"
fi
printf 'root:x:0:0:root:/:/sbin/nologin\nnonroot:x:65532:65532:nonroot:/:/sbin/nologin\n' >"$root/etc/passwd"
printf 'root:x:0:\nnonroot:x:65532:\n' >"$root/etc/group"

buildah build --isolation chroot --layers=false -f deploy/image/Containerfile -t "$tag" "$context" >&2
echo "$tag"
