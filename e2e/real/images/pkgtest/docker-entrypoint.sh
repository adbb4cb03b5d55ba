#!/bin/sh
# The package test's image: a fresh Debian 12 with docker.io (the docker CLI
# and the package's dependency) and systemd (systemd-analyze), where no init
# runs. It only runs what it is given.
exec "$@"
