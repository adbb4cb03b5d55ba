#!/bin/bash
# Entry point of StackHub's local MariaDB image (Debian 12's mariadb-server).
# It honours the environment of the official mariadb image that StackHub's
# bundles use: MARIADB_ROOT_PASSWORD (or MYSQL_ROOT_PASSWORD),
# MARIADB_DATABASE, MARIADB_USER and MARIADB_PASSWORD, applied when the data
# directory is empty. Arguments starting with - go to mariadbd.
set -euo pipefail

if [ "${1:-}" = "" ] || [ "${1:0:1}" = "-" ]; then
	set -- mariadbd "$@"
fi
if [ "$1" != "mariadbd" ] && [ "$1" != "mysqld" ]; then
	exec "$@"
fi
shift

root_pw=${MARIADB_ROOT_PASSWORD:-${MYSQL_ROOT_PASSWORD:-}}
database=${MARIADB_DATABASE:-${MYSQL_DATABASE:-}}
user=${MARIADB_USER:-${MYSQL_USER:-}}
password=${MARIADB_PASSWORD:-${MYSQL_PASSWORD:-}}
datadir=/var/lib/mysql
socket=/run/mysqld/mysqld.sock

mkdir -p /run/mysqld "$datadir"
chown mysql:mysql /run/mysqld "$datadir"

# sql_string quotes a value for SQL.
sql_string() {
	local s=${1//\\/\\\\}
	printf "'%s'" "${s//\'/\\\'}"
}

if [ ! -d "$datadir/mysql" ]; then
	if [ -z "$root_pw" ]; then
		echo "error: database is uninitialized and MARIADB_ROOT_PASSWORD is not set" >&2
		exit 1
	fi
	echo "entrypoint: initializing $datadir"
	mariadb-install-db --user=mysql --datadir="$datadir" --skip-test-db \
		--auth-root-authentication-method=normal >/dev/null
	mariadbd --user=mysql --datadir="$datadir" --skip-networking --socket="$socket" &
	pid=$!
	for _ in $(seq 1 60); do
		mariadb-admin --socket="$socket" --user=root ping >/dev/null 2>&1 && break
		sleep 0.5
	done
	{
		echo "SET @@SESSION.SQL_LOG_BIN=0;"
		echo "DELETE FROM mysql.global_priv WHERE User = '' OR (User = 'root' AND Host NOT IN ('localhost'));"
		echo "ALTER USER 'root'@'localhost' IDENTIFIED BY $(sql_string "$root_pw");"
		echo "CREATE USER 'root'@'%' IDENTIFIED BY $(sql_string "$root_pw");"
		echo "GRANT ALL ON *.* TO 'root'@'%' WITH GRANT OPTION;"
		echo "CREATE USER IF NOT EXISTS 'mysql'@'localhost' IDENTIFIED VIA unix_socket;"
		if [ -n "$database" ]; then
			echo "CREATE DATABASE IF NOT EXISTS \`${database//\`/}\`;"
		fi
		if [ -n "$user" ] && [ -n "$password" ]; then
			echo "CREATE USER $(sql_string "$user")@'%' IDENTIFIED BY $(sql_string "$password");"
			if [ -n "$database" ]; then
				echo "GRANT ALL ON \`${database//\`/}\`.* TO $(sql_string "$user")@'%';"
			fi
		fi
		echo "FLUSH PRIVILEGES;"
	} | mariadb --socket="$socket" --user=root
	kill "$pid"
	wait "$pid" || true
	echo "entrypoint: initialized"
fi

exec mariadbd --user=mysql --datadir="$datadir" --socket="$socket" \
	--bind-address=0.0.0.0 --port=3306 --skip-name-resolve "$@"
