#!/usr/bin/env bash
# SPDX-License-Identifier: Apache-2.0
# make image: builds the agent's container image from deploy/Containerfile with the first
# OCI builder that works here: podman, buildah, or docker with a reachable engine. Where
# none does it says what it found and why nothing was built, and exits 0 (a machine
# without a builder is not an error of kgate's; nothing pretends an image was made).
#
#   IMAGE=registry.example.com/kgate:0.5.0 scripts/image.sh
set -uo pipefail
cd "$(dirname "$0")/.."
IMAGE=${IMAGE:-kgate:$(cat VERSION)}
COMMIT=${COMMIT:-$(git describe --always --dirty 2>/dev/null || echo unknown)}
ARGS=(-f deploy/Containerfile -t "$IMAGE" --build-arg "KGATE_COMMIT=$COMMIT" .)
found=()

if command -v podman >/dev/null; then
	if podman info >/dev/null 2>&1; then
		echo "image: podman build -t $IMAGE" >&2
		exec podman build "${ARGS[@]}"
	fi
	found+=("podman (podman info fails: $(podman info 2>&1 | tail -1))")
fi
if command -v buildah >/dev/null; then
	echo "image: buildah bud -t $IMAGE" >&2
	exec buildah bud "${ARGS[@]}"
fi
if command -v docker >/dev/null; then
	if err=$(docker info 2>&1 >/dev/null); then
		echo "image: docker build -t $IMAGE" >&2
		exec docker build "${ARGS[@]}"
	fi
	found+=("a docker client whose engine is not reachable ($(printf '%s' "$err" | grep -m1 -iE 'cannot connect|error' || echo 'docker info fails'))")
fi
if [ ${#found[@]} -eq 0 ]; then
	echo "image: skipped, nothing built: no OCI builder here (none of podman, buildah, docker)." >&2
else
	echo "image: skipped, nothing built: found only ${found[*]}." >&2
fi
echo "image: to build it, install podman or buildah, or start a docker engine, then run make image again" >&2
exit 0
