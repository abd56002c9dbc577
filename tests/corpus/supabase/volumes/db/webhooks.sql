# placeholder written for phasekit's corpus
