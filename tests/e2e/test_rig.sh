#!/usr/bin/env bash
# SPDX-License-Identifier: Apache-2.0
# The rig alone, no kgate attached: kcat produces and consumes back byte-identical from
# eu and us over IPv4 and IPv6, and `rig_down` leaves no namespace, veth or process.
set -uo pipefail
cd "$(dirname "$0")/../.."
[ "$(id -u)" -eq 0 ] || { echo "test_rig: needs root (netns)" >&2; exit 1; }
source scripts/rig.sh
trap rig_down EXIT
rig_up || exit 1
id=$RIG_ID
fails=0
rig_check || fails=1
rig_down
trap - EXIT
if ip netns list | grep -q "^$id-" || ip -br link | grep -q "^$id"; then
	echo "FAIL: rig_down left namespaces or links of $id" >&2
	fails=1
fi
if [ -e "/tmp/kgate-rig-$id" ]; then
	echo "FAIL: rig_down left /tmp/kgate-rig-$id" >&2
	fails=1
fi
[ $fails -eq 0 ] && echo "rig: eu/us IPv4/IPv6 produce+consume without kgate, clean teardown: passed"
exit $fails
