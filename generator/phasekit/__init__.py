"""phasekit: from docker-compose and hand-set IPs to phased, validated, updatable platform artifacts."""

from importlib.metadata import PackageNotFoundError, version

try:
    __version__ = version("phasekit")
except PackageNotFoundError:  # running from a source tree that was never installed
    __version__ = "0.0.0"
