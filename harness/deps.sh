#!/bin/bash
# Install the Debian packages the harness needs, only those missing.
# SPDX-License-Identifier: GPL-2.0
set -euo pipefail
missing=()
for p in "$@"; do
	dpkg-query -W -f='${Status}' "$p" 2>/dev/null | grep -q 'ok installed' || missing+=("$p")
done
if [ ${#missing[@]} -gt 0 ]; then
	echo "==> installing: ${missing[*]}"
	[ "$(id -u)" = 0 ] || { echo "error: run as root to install packages" >&2; exit 1; }
	export DEBIAN_FRONTEND=noninteractive
	apt-get update -qq || true
	apt-get install -y -qq --no-install-recommends "${missing[@]}" >/dev/null
fi
echo "==> base: linux-source-6.12 $(dpkg-query -W -f='${Version}' linux-source-6.12)"
