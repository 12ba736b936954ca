#!/usr/bin/env bash
# Starts a private PostgreSQL on 127.0.0.1 for pult's store tests (Debian's
# `postgresql` package; no systemd, no cluster under /etc/postgresql).
#
#   scripts/postgres.sh start DIR PORT   # prints nothing; the server is postgres://pult@127.0.0.1:PORT/pult
#   scripts/postgres.sh stop DIR
#
# The role `pult` has the password in DIR/password (0600), so the tests go
# through pult's own `password_file`; the superuser `postgres` may create and
# drop one database per test.
set -euo pipefail
cmd=${1:?start|stop}; DIR=$(realpath -m "${2:?data dir}")

bin() { ls -d /usr/lib/postgresql/*/bin 2>/dev/null | sort -V | tail -1; }

if [ "$cmd" = stop ]; then
  b=$(bin)
  [ -n "$b" ] && [ -f "$DIR/data/postmaster.pid" ] &&
    su postgres -s /bin/sh -c "'$b/pg_ctl' -D '$DIR/data' -m immediate -w stop" >/dev/null 2>&1 || true
  exit 0
fi
PORT=${3:?port}

[ "$(id -u)" = 0 ] || { echo "postgres.sh: run as root (the server runs as the system user postgres)" >&2; exit 1; }
if [ -z "$(bin)" ]; then
  export DEBIAN_FRONTEND=noninteractive
  # The package would make and start a cluster of its own on 5432; ours is private.
  mkdir -p /etc/postgresql-common
  grep -qs '^create_main_cluster' /etc/postgresql-common/createcluster.conf ||
    echo 'create_main_cluster = false' >> /etc/postgresql-common/createcluster.conf
  apt-get install -y -qq --no-install-recommends postgresql >/dev/null 2>&1 ||
    { apt-get update -qq && apt-get install -y -qq --no-install-recommends postgresql >/dev/null; }
fi
B=$(bin)
[ -n "$B" ] || { echo "postgres.sh: no PostgreSQL server found after installing postgresql" >&2; exit 1; }

mkdir -p "$DIR/run"
chown postgres "$DIR" "$DIR/run"
echo pult-test-secret > "$DIR/password"; chmod 600 "$DIR/password"
printf 'pult-test-secret\n' > "$DIR/pwfile"; chown postgres "$DIR/pwfile"
su postgres -s /bin/sh -c "'$B/initdb' -D '$DIR/data' -U postgres --auth-local=trust --auth-host=scram-sha-256 \
  --pwfile='$DIR/pwfile' -E UTF8 --locale=C.UTF-8" >"$DIR/initdb.log" 2>&1 ||
  { cat "$DIR/initdb.log" >&2; exit 1; }
rm -f "$DIR/pwfile"
# TLS for the tests of sslmode=require: a CA of the test's own and a
# certificate for 127.0.0.1 (tests/postgres.rs reads DIR/tls/ca.pem).
mkdir -p "$DIR/tls"
( cd "$DIR/tls"
  openssl req -x509 -newkey rsa:2048 -nodes -days 365 -subj "/CN=pult test PostgreSQL CA" \
    -addext "basicConstraints=critical,CA:TRUE" -addext "keyUsage=critical,keyCertSign" \
    -keyout ca.key -out ca.pem 2>/dev/null
  openssl req -newkey rsa:2048 -nodes -subj "/CN=127.0.0.1" -keyout key.pem -out leaf.csr 2>/dev/null
  printf 'basicConstraints=critical,CA:FALSE\nextendedKeyUsage=serverAuth\nsubjectAltName=IP:127.0.0.1,DNS:localhost\n' > leaf.ext
  openssl x509 -req -in leaf.csr -CA ca.pem -CAkey ca.key -CAcreateserial -days 365 -extfile leaf.ext -out cert.pem 2>/dev/null
  chmod 600 ca.key key.pem; chown postgres key.pem cert.pem )
# Loopback only; fsync off (a test server, and the tests measure nothing).
cat >> "$DIR/data/postgresql.conf" <<CONF
ssl = on
ssl_cert_file = '$DIR/tls/cert.pem'
ssl_key_file = '$DIR/tls/key.pem'
listen_addresses = '127.0.0.1'
port = $PORT
unix_socket_directories = '$DIR/run'
fsync = off
synchronous_commit = off
full_page_writes = off
max_connections = 200
CONF
su postgres -s /bin/sh -c "'$B/pg_ctl' -D '$DIR/data' -l '$DIR/server.log' -w -t 60 start" >/dev/null ||
  { cat "$DIR/server.log" >&2; exit 1; }
su postgres -s /bin/sh -c "'$B/psql' -h '$DIR/run' -p $PORT -U postgres -q -v ON_ERROR_STOP=1" <<SQL >/dev/null
CREATE ROLE pult LOGIN CREATEDB PASSWORD 'pult-test-secret';
CREATE DATABASE pult OWNER pult;
SQL
