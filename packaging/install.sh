#!/usr/bin/env bash
# install.sh: installs (or upgrades) StackHub on Debian 12 or Ubuntu 24.04
# from its Debian package, with Debian's docker.io when no Docker engine
# answers, and starts the stackhub service where systemd runs.
#
#   install.sh [--version vX.Y.Z] [--deb PATH] [--force]
#   install.sh --uninstall [--purge-data]
#
#   --version V    install release V (default: the latest release)
#   --deb PATH     install this .deb instead of downloading one
#   --force        go on on another OS than Debian 12 or Ubuntu 24.04
#   --uninstall    remove the package; /var/lib/stackhub (the database,
#                  keys) is kept, and so are the apps' containers
#   --purge-data   with --uninstall: purge the package and delete
#                  /var/lib/stackhub too (STACKHUB_PURGE_DATA=1)
#
# Running it again upgrades to the version asked for (or does nothing
# when it is installed). Releases are downloaded from
# STACKHUB_RELEASES_URL (default https://github.com/websoft9/stackhub/releases)
# and checked against the release's SHA256SUMS.
set -euo pipefail

releases_url=${STACKHUB_RELEASES_URL:-https://github.com/websoft9/stackhub/releases}
config=/etc/stackhub/config.yaml

say() { printf 'stackhub: %s\n' "$*"; }
die() { printf 'stackhub: %s\n' "$*" >&2; exit 1; }
usage() { sed -n '2,/^set -euo/p' "$0" | sed -e '$d' -e 's/^# \{0,1\}//'; }

version="" deb="" force=0 uninstall=0 purge_data=0
while [ $# -gt 0 ]; do
	case "$1" in
	--version) [ $# -ge 2 ] || die "--version needs a value"; version=$2; shift 2 ;;
	--deb) [ $# -ge 2 ] || die "--deb needs a path"; deb=$2; shift 2 ;;
	--force) force=1; shift ;;
	--uninstall) uninstall=1; shift ;;
	--purge-data) purge_data=1; shift ;;
	-h | --help) usage; exit 0 ;;
	*) die "unknown argument: $1 (see --help)" ;;
	esac
done
if [ "$purge_data" = 1 ] && [ "$uninstall" = 0 ]; then
	die "--purge-data goes with --uninstall"
fi
if [ -n "$version" ] && ! [[ "$version" =~ ^v[0-9]+\.[0-9]+\.[0-9]+(-[0-9A-Za-z.]+)?$ ]]; then
	die "--version $version: want a release tag such as v1.2.0"
fi

[ "$(id -u)" = 0 ] || die "run me as root (sudo bash install.sh …)"
export DEBIAN_FRONTEND=noninteractive

installed() { dpkg-query -W -f '${db:Status-Status}' stackhub 2>/dev/null | grep -qx installed; }

if [ "$uninstall" = 1 ]; then
	if [ "$purge_data" = 1 ]; then
		if dpkg-query -W stackhub >/dev/null 2>&1; then
			STACKHUB_PURGE_DATA=1 apt-get purge -y -qq stackhub
		else
			rm -rf /var/lib/stackhub
		fi
		say "removed the package, its settings and /var/lib/stackhub; the apps' containers and volumes are still in Docker"
	elif installed; then
		apt-get remove -y -qq stackhub
		say "removed the package; kept $config and /var/lib/stackhub (--purge-data removes them); the apps keep running in Docker"
	else
		say "stackhub is not installed"
	fi
	exit 0
fi

# The OS and the architecture the packages are built for.
os_field() { sed -n "s/^$1=//p" /etc/os-release 2>/dev/null | tr -d '"' | head -1; }
os_id=$(os_field ID)
os_version=$(os_field VERSION_ID)
case "$os_id $os_version" in
"debian 12" | "ubuntu 24.04") ;;
*)
	[ "$force" = 1 ] || die "this is ${os_id:-an unknown OS} ${os_version}: StackHub's package is for Debian 12 and Ubuntu 24.04 (--force tries anyway)"
	say "warning: ${os_id:-unknown OS} ${os_version} is not supported; going on (--force)"
	;;
esac
arch=$(dpkg --print-architecture)
case "$arch" in
amd64 | arm64) ;;
*) die "architecture $arch: StackHub's package is built for amd64 and arm64" ;;
esac

systemd_runs() { [ -d /run/systemd/system ]; }

# Docker: the distribution's, unless an engine already answers.
if docker version >/dev/null 2>&1; then
	say "Docker answers: $(docker version --format '{{.Server.Version}}' 2>/dev/null || echo '?')"
else
	say "no Docker engine answers: installing the distribution's docker.io"
	apt-get update -qq
	apt-get install -y -qq docker.io >/dev/null
	if systemd_runs; then
		systemctl enable --now docker.service
	fi
	docker version >/dev/null 2>&1 || die "docker.io is installed but no engine answers (systemctl status docker)"
fi

# The package: the one given, or the release's.
tmp=$(mktemp -d)
trap 'rm -rf "$tmp"' EXIT
if [ -n "$deb" ]; then
	[ -f "$deb" ] || die "--deb $deb: no such file"
	deb=$(cd "$(dirname "$deb")" && pwd)/$(basename "$deb")
else
	if ! command -v curl >/dev/null 2>&1; then
		apt-get update -qq
		apt-get install -y -qq curl ca-certificates >/dev/null
	fi
	if [ -z "$version" ]; then
		# …/releases/latest redirects to …/releases/tag/vX.Y.Z.
		latest=$(curl -fsSLI -o /dev/null -w '%{url_effective}' "$releases_url/latest") ||
			die "could not reach $releases_url/latest"
		version=${latest##*/}
		[[ "$version" =~ ^v[0-9]+\.[0-9]+\.[0-9]+(-[0-9A-Za-z.]+)?$ ]] ||
			die "$releases_url/latest led to $latest: no release there"
	fi
	# The package's version is the tag's, without v, a pre-release after ~.
	debversion=${version#v}
	debversion=${debversion//-/\~}
	name="stackhub_${debversion}_${arch}.deb"
	say "downloading StackHub $version ($name)"
	curl -fsSL -o "$tmp/$name" "$releases_url/download/$version/$name" || die "could not download $releases_url/download/$version/$name"
	curl -fsSL -o "$tmp/SHA256SUMS" "$releases_url/download/$version/SHA256SUMS" || die "could not download the release's SHA256SUMS"
	(cd "$tmp" && grep -E "  ${name//./\\.}\$" SHA256SUMS | sha256sum -c --quiet -) || die "$name does not match the release's SHA256SUMS"
	deb=$tmp/$name
fi

# Installed over an earlier version, it is an upgrade: the operator's
# config.yaml is kept, the service restarted by the package.
before=$(dpkg-query -W -f '${Version}' stackhub 2>/dev/null || true)
dpkg_opts=(-o Dpkg::Options::=--force-confdef -o Dpkg::Options::=--force-confold)
if dpkg-query -W -f '${db:Status-Status}' docker.io docker-ce 2>/dev/null | grep -q installed; then
	apt-get install -y -qq "${dpkg_opts[@]}" "$deb" >/dev/null
else
	# Docker answers but came from elsewhere (a static build, a snap): the
	# package's dependency on docker.io | docker-ce cannot be met by apt.
	say "warning: Docker is not installed from a package; installing StackHub without its docker.io dependency"
	dpkg --force-depends --force-confold -i "$deb" >/dev/null
fi
after=$(dpkg-query -W -f '${Version}' stackhub)
if [ -z "$before" ]; then
	say "installed stackhub $after"
elif [ "$before" = "$after" ]; then
	say "stackhub $after is installed already"
else
	say "upgraded stackhub $before → $after"
fi
stackhub version || true

# Where the console answers.
listen=$(sed -n 's/^listen:[[:space:]]*//p' "$config" | tr -d "\"'" | head -1)
listen=${listen:-127.0.0.1:9000}
port=${listen##*:}
host=${listen%:*}
case "$host" in
"" | 0.0.0.0 | "[::]")
	host=$(hostname -I 2>/dev/null | awk '{print $1}')
	host=${host:-127.0.0.1}
	;;
esac
[[ "$host" == *:* && "$host" != \[* ]] && host="[$host]"
url="http://$host:$port/"

if ! systemd_runs; then
	say "systemd does not run here: start StackHub with"
	say "  /usr/bin/stackhub serve --config $config"
	say "then open $url and create the first admin with the setup_code it logs"
	exit 0
fi

systemctl enable --now stackhub.service >/dev/null 2>&1 || die "the stackhub service did not start: journalctl -u stackhub"
for _ in $(seq 1 60); do
	if (exec 3<>"/dev/tcp/127.0.0.1/$port") 2>/dev/null; then
		break
	fi
	sleep 0.5
done
systemctl is-active --quiet stackhub.service || die "the stackhub service is not running: journalctl -u stackhub"
say "the console: $url"
# The code the running service logged last: it logs one at start, and a
# new one every hour, while no user exists.
invocation=$(systemctl show -p InvocationID --value stackhub.service)
code=""
for _ in $(seq 1 10); do
	code=$(journalctl "_SYSTEMD_INVOCATION_ID=$invocation" --no-pager -o cat 2>/dev/null | grep -o 'setup_code=[^ ]*' | tail -1 | cut -d= -f2 || true)
	[ -n "$code" ] && break
	sleep 0.5
done
if [ -n "$code" ]; then
	say "create the first admin there with the one-time setup code: $code"
	say "(valid for an hour; a new one is logged after that: journalctl -u stackhub | grep setup_code)"
else
	say "no setup code logged: an admin exists already (or see journalctl -u stackhub)"
fi
