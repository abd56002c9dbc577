# Placeholder written for the phasekit corpus: upstream checks the snuba API health endpoint.
import sys
sys.exit(0)
