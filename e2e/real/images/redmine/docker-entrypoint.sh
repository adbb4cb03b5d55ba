#!/bin/bash
# Entry point of StackHub's local Redmine image (Debian 12's redmine 5.0
# package, served by puma). It honours the environment of the official
# redmine image that StackHub's bundle uses: REDMINE_DB_MYSQL,
# REDMINE_DB_PORT, REDMINE_DB_USERNAME, REDMINE_DB_PASSWORD,
# REDMINE_DB_DATABASE, REDMINE_DB_ENCODING and REDMINE_SECRET_KEY_BASE;
# attachments live in /usr/src/redmine/files. `rails server` (the default
# command) migrates the database, then serves on port 3000.
set -euo pipefail

if [ "${1:-}" != "rails" ] || [ "${2:-}" != "server" ]; then
	exec "$@"
fi

: "${REDMINE_DB_MYSQL:?REDMINE_DB_MYSQL is required: this image supports MySQL/MariaDB only}"
export REDMINE_DB_PORT=${REDMINE_DB_PORT:-3306}
export REDMINE_DB_USERNAME=${REDMINE_DB_USERNAME:-root}
export REDMINE_DB_PASSWORD=${REDMINE_DB_PASSWORD:-}
export REDMINE_DB_DATABASE=${REDMINE_DB_DATABASE:-redmine}
export REDMINE_DB_ENCODING=${REDMINE_DB_ENCODING:-utf8mb4}

# YAML written by Ruby, so any password is quoted right.
ruby -ryaml -e 'puts({"production" => {"adapter" => "mysql2", "host" => ENV["REDMINE_DB_MYSQL"],
  "port" => Integer(ENV["REDMINE_DB_PORT"]), "username" => ENV["REDMINE_DB_USERNAME"],
  "password" => ENV["REDMINE_DB_PASSWORD"], "database" => ENV["REDMINE_DB_DATABASE"],
  "encoding" => ENV["REDMINE_DB_ENCODING"]}}.to_yaml)' >/etc/redmine/default/database.yml
chown root:www-data /etc/redmine/default/database.yml
chmod 640 /etc/redmine/default/database.yml

files=/usr/src/redmine/files
chown www-data:www-data "$files"
secret=${REDMINE_SECRET_KEY_BASE:-}
if [ -z "$secret" ]; then
	# Like the official image without the variable: a key of its own,
	# kept with the attachments so sessions survive a restart.
	if [ ! -s "$files/.secret_key_base" ]; then
		head -c 48 /dev/urandom | od -An -tx1 | tr -d ' \n' >"$files/.secret_key_base"
		chmod 600 "$files/.secret_key_base"
	fi
	secret=$(cat "$files/.secret_key_base")
fi
export SECRET_KEY_BASE=$secret RAILS_ENV=production

cd /usr/share/redmine
for attempt in $(seq 1 30); do
	if runuser -u www-data -- bin/rake db:migrate; then
		break
	fi
	if [ "$attempt" = 30 ]; then
		echo "entrypoint: the database migration failed 30 times" >&2
		exit 1
	fi
	echo "entrypoint: database not ready, retrying in 2s" >&2
	sleep 2
done

shift 2
port=3000 bind=0.0.0.0
while [ $# -gt 0 ]; do
	case "$1" in
	-b | --binding) bind=$2; shift 2 ;;
	-p | --port) port=$2; shift 2 ;;
	*) shift ;;
	esac
done
exec runuser -u www-data -- puma --bind "tcp://$bind:$port" --environment production config.ru
