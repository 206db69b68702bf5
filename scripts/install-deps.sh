#!/usr/bin/env bash
# SPDX-License-Identifier: Apache-2.0
# Installs every build and test dependency of kgate from Debian's packages.
# Idempotent: when everything is present it prints nothing and exits 0.
set -euo pipefail

PKGS=(
	# build
	make clang llvm libbpf-dev bpftool libelf-dev zlib1g-dev pkg-config
	librdkafka-dev libyaml-dev
	# tests: unit (CUnit), sanitizers and libFuzzer runtime
	libcunit1-dev libclang-rt-14-dev
	# tests: real Kafka clients, packet crafting, namespaces, captures
	kcat python3 python3-confluent-kafka python3-kafka python3-scapy
	iproute2 iptables tcpdump tshark procps
	# tests: the e2e rig (ethtool: veth offloads), the SASL front (OpenSSL), deploy checks
	ethtool libssl-dev python3-yaml util-linux
	# make install's test: man pages through groff and man, the bash and zsh completions
	groff-base man-db bash-completion zsh
	# make bench-profile (perf samples of the datapath)
	linux-perf
	# make bench: the nftables side of the L3 drop comparison, the report's plot
	nftables python3-matplotlib
)

missing=()
for p in "${PKGS[@]}"; do
	if ! dpkg-query -W -f='${Status}' "$p" 2>/dev/null | grep -q "install ok installed"; then
		missing+=("$p")
	fi
done
[ ${#missing[@]} -eq 0 ] && exit 0

if [ "$(id -u)" -ne 0 ]; then
	echo "install-deps: missing packages: ${missing[*]}; run as root" >&2
	exit 1
fi
echo "install-deps: installing ${missing[*]}" >&2
export DEBIAN_FRONTEND=noninteractive
# tshark asks whether non-root users may capture; the default (no) is fine.
echo "wireshark-common wireshark-common/install-setuid boolean false" | debconf-set-selections
apt-get update -qq >/dev/null
apt-get install -y -qq --no-install-recommends "${missing[@]}" >/dev/null
