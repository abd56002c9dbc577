# Placeholder written for the phasekit corpus: upstream mounts a folder of NetBox Python settings here.
