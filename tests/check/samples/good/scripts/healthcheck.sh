#!/bin/sh
# Exit 0 when the service answers on its readiness endpoint.
set -eu
url="${1:-http://localhost:8080/health/ready}"
wget -q -O /dev/null "$url"
