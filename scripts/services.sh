#!/usr/bin/env bash
# Start the local services the integration tests talk to, if they are not up already.
set -uo pipefail
mariadb_up() { mariadb -h 127.0.0.1 -P 3306 -u root -e 'SELECT 1' >/dev/null 2>&1; }
if ! mariadb_up; then
  if [ ! -x /usr/sbin/mariadbd ]; then
    echo "==> installing mariadb-server" >&2
    (apt-get update -qq && DEBIAN_FRONTEND=noninteractive apt-get install -y -qq mariadb-server mariadb-client) >/dev/null 2>&1 \
      || echo "could not install mariadb-server; MySQL parity tests will fail under CI" >&2
  fi
  if [ -x /usr/sbin/mariadbd ]; then
    echo "==> starting MariaDB" >&2
    mkdir -p /run/mysqld && chown mysql:mysql /run/mysqld 2>/dev/null || true
    start-stop-daemon --start --oknodo --background --exec /usr/sbin/mariadbd -- --user=mysql >/dev/null 2>&1 || true
    for _ in $(seq 1 30); do mariadb_up && break; sleep 1; done
  fi
fi
mariadb_up && echo "==> MariaDB is up on 127.0.0.1:3306" >&2 || echo "MariaDB is not reachable on 127.0.0.1:3306" >&2
exit 0
