#!/bin/bash
# healthcheck.sh as the official mariadb image has it, for the two checks
# StackHub's bundles use: --connect (a client connects) and
# --innodb_initialized (InnoDB is up). It connects over the local socket
# as the mysql user (unix_socket authentication).
set -euo pipefail
q() { runuser -u mysql -- mariadb --socket=/run/mysqld/mysqld.sock --user=mysql --skip-column-names -e "$1"; }
for check in "$@"; do
	case "$check" in
	--connect) q "SELECT 1" >/dev/null ;;
	--innodb_initialized)
		[ "$(q "SELECT 1 FROM information_schema.ENGINES WHERE engine = 'InnoDB' AND support IN ('YES', 'DEFAULT')")" = "1" ] ;;
	--su-mysql | --su=* | --defaults-file=* | --no-defaults) ;;
	*)
		echo "healthcheck.sh: unsupported check $check" >&2
		exit 2
		;;
	esac
done
