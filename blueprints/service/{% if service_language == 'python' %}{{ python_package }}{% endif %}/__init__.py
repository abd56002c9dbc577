"""A phasekit starter service: health endpoints, Prometheus metrics, nothing else yet."""

__version__ = "0.1.0"
