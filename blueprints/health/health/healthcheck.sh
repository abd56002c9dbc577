#!/bin/sh
# phasekit health checker for images without Python (POSIX sh; curl or wget for http, nc for tcp).
#
#   healthcheck.sh liveness|readiness|startup   the worker heartbeat contract (see below)
#   healthcheck.sh http URL                     healthy when URL answers 2xx/3xx
#   healthcheck.sh tcp HOST PORT                healthy when HOST:PORT accepts a connection (needs nc)
#
# Exit status: 0 healthy, 1 unhealthy, 2 usage error. Every check is bounded by HEALTHCHECK_TIMEOUT
# seconds (default 4, at most 5): the tools get that timeout and `timeout` wraps them when present.
#
# Worker heartbeat contract, in HEALTHCHECK_DIR (default /tmp/healthcheck):
#   heartbeat  the worker writes the current Unix time in whole seconds, at least every few seconds,
#              from its main loop (write a temporary file, then rename it over `heartbeat`)
#   ready      the worker creates it when it can do work (its dependencies answer), removes it when not
# liveness: heartbeat younger than HEALTHCHECK_MAX_AGE seconds (default 60) - never looks at dependencies
# readiness: liveness and `ready` exists; startup: the heartbeat file exists.
set -u

dir="${HEALTHCHECK_DIR:-/tmp/healthcheck}"
max_age="${HEALTHCHECK_MAX_AGE:-60}"
limit="${HEALTHCHECK_TIMEOUT:-4}"

fail() {
    printf 'unhealthy: %s\n' "$1"
    exit 1
}

usage() {
    printf 'usage: %s liveness|readiness|startup | http URL | tcp HOST PORT\n' "$0" >&2
    exit 2
}

is_number() {
    case "$1" in
        '' | *[!0-9]*) return 1 ;;
        *) return 0 ;;
    esac
}

is_number "$limit" || usage
is_number "$max_age" || usage
[ "$limit" -le 5 ] || limit=5
[ "$limit" -ge 1 ] || limit=1

now() {
    t=$(date +%s 2>/dev/null)
    if is_number "$t"; then
        printf '%s\n' "$t"
    else
        # POSIX awk: srand() returns the previous seed, which srand() with no argument set to the time.
        awk 'BEGIN { srand(); print srand() }'
    fi
}

bounded() {
    if command -v timeout >/dev/null 2>&1; then
        timeout "$limit" "$@"
    else
        "$@"
    fi
}

heartbeat() {
    beat_file="$dir/heartbeat"
    [ -f "$beat_file" ] || fail "no heartbeat file $beat_file"
    [ "$1" = startup ] && {
        printf 'healthy: heartbeat file %s exists\n' "$beat_file"
        exit 0
    }
    beat=$(head -n 1 "$beat_file")
    is_number "$beat" || fail "$beat_file does not hold a Unix time"
    age=$(($(now) - beat))
    [ "$age" -le "$max_age" ] || fail "last heartbeat ${age}s ago (limit ${max_age}s)"
    if [ "$1" = readiness ] && [ ! -e "$dir/ready" ]; then
        fail "alive but not ready (no $dir/ready)"
    fi
    printf 'healthy: heartbeat %ss old\n' "$age"
    exit 0
}

http() {
    if command -v curl >/dev/null 2>&1; then
        bounded curl -fsS -o /dev/null --max-time "$limit" "$1" || fail "http $1"
    elif command -v wget >/dev/null 2>&1; then
        bounded wget -q -T "$limit" -O /dev/null "$1" || fail "http $1"
    else
        fail "http $1: neither curl nor wget in this image"
    fi
    printf 'healthy: http %s\n' "$1"
    exit 0
}

tcp() {
    command -v nc >/dev/null 2>&1 || fail "tcp $1:$2: no nc in this image"
    bounded nc -z -w "$limit" "$1" "$2" || fail "tcp $1:$2 refused or timed out"
    printf 'healthy: tcp %s:%s\n' "$1" "$2"
    exit 0
}

[ "$#" -ge 1 ] || usage
case "$1" in
    liveness | readiness | startup)
        [ "$#" -eq 1 ] || usage
        heartbeat "$1"
        ;;
    http)
        [ "$#" -eq 2 ] || usage
        http "$2"
        ;;
    tcp)
        [ "$#" -eq 3 ] || usage
        is_number "$3" || usage
        tcp "$2" "$3"
        ;;
    *) usage ;;
esac
