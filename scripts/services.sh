#!/usr/bin/env bash
# Start the local services the integration tests talk to, if they are not up already:
# MariaDB (MySQL parity), PostgreSQL (the production Dagster instance config) and, for the
# real-browser test, Debian's Chromium. Never fails by itself: under CI the tests that need a
# missing piece fail with the reason (they skip only outside CI).
set -uo pipefail

APT_UPDATED=0
apt_install() {
  # One `apt-get update` per invocation, and only when something must be installed.
  if [ "$APT_UPDATED" = 0 ]; then
    apt-get update -qq >/dev/null 2>&1 && APT_UPDATED=1
  fi
  DEBIAN_FRONTEND=noninteractive apt-get install -y -qq "$@" >/dev/null 2>&1
}

# --- MariaDB ---------------------------------------------------------------------------------
mariadb_up() { mariadb -h 127.0.0.1 -P 3306 -u root -e 'SELECT 1' >/dev/null 2>&1; }
if ! mariadb_up; then
  if [ ! -x /usr/sbin/mariadbd ]; then
    echo "==> installing mariadb-server" >&2
    apt_install mariadb-server mariadb-client \
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

# --- PostgreSQL (test_postgres_instance.py) ----------------------------------------------------
pg_up() { pg_isready -q -h 127.0.0.1 -p 5432 >/dev/null 2>&1; }
if ! pg_up; then
  if ! command -v pg_ctlcluster >/dev/null 2>&1; then
    echo "==> installing postgresql" >&2
    apt_install postgresql || echo "could not install postgresql; the instance test will fail under CI" >&2
  fi
  if command -v pg_ctlcluster >/dev/null 2>&1; then
    version="$(ls /etc/postgresql 2>/dev/null | sort -V | tail -1)"
    if [ -n "$version" ]; then
      echo "==> starting PostgreSQL $version" >&2
      # --skip-systemctl-redirect: there is no systemd in the CI container.
      pg_ctlcluster --skip-systemctl-redirect "$version" main start >/dev/null 2>&1 || true
      for _ in $(seq 1 30); do pg_up && break; sleep 1; done
    fi
  fi
fi
pg_up && echo "==> PostgreSQL is up on 127.0.0.1:5432" >&2 || echo "PostgreSQL is not reachable on 127.0.0.1:5432" >&2

# --- Chromium (test_browser.py; Playwright drives it, never `playwright install`) --------------
if [ ! -x /usr/bin/chromium ]; then
  echo "==> installing chromium" >&2
  apt_install chromium || echo "could not install chromium; the browser test will fail under CI" >&2
fi
[ -x /usr/bin/chromium ] && echo "==> Chromium at /usr/bin/chromium" >&2 || echo "no /usr/bin/chromium" >&2
exit 0
