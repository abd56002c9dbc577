#!/bin/sh
# placeholder written for the phasekit corpus: the real check pings redis
redis-cli ping | grep -q PONG
