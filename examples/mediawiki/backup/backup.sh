#!/bin/sh
set -eu
mysqldump -h "$MYSQL_HOST" -u root wikidb | restic backup --stdin --stdin-filename wikidb.sql
restic backup /srv/images
