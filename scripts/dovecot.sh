#!/usr/bin/env bash
# Starts a private Dovecot on 127.0.0.1 for pult's email tests (no systemd, no /etc/dovecot).
#
#   scripts/dovecot.sh start DIR IMAP_PORT IMAPS_PORT [LMTP_PORT]   # users alice, bob (password "secret")
#   scripts/dovecot.sh stop DIR
#   PULT_DOVECOT_EXTRA='…' scripts/dovecot.sh start …   # settings appended to the config
#
# DIR/tls/ca.pem is the test CA that signed the IMAPS certificate (IP SAN 127.0.0.1).
# Mail is owned by the system user `vmail` (Dovecot refuses uid 0 for mail).
set -euo pipefail
cmd=${1:?start|stop}; DIR=$(realpath -m "${2:?data dir}")
CONF=$DIR/etc/dovecot.conf

if [ "$cmd" = stop ]; then
  [ -f "$CONF" ] && doveadm -c "$CONF" stop >/dev/null 2>&1 || true
  exit 0
fi
IMAP_PORT=${3:?imap port}; IMAPS_PORT=${4:?imaps port}; LMTP_PORT=${5:-$((IMAP_PORT + 2))}

[ "$(id -u)" = 0 ] || { echo "dovecot.sh: run as root (Dovecot's master starts as root)" >&2; exit 1; }
if ! command -v dovecot >/dev/null || [ ! -x /usr/lib/dovecot/lmtp ]; then
  export DEBIAN_FRONTEND=noninteractive
  pkgs="dovecot-core dovecot-imapd dovecot-lmtpd openssl"
  apt-get install -y -qq --no-install-recommends $pkgs >/dev/null 2>&1 ||
    { apt-get update -qq && apt-get install -y -qq --no-install-recommends $pkgs >/dev/null; }
fi
id vmail >/dev/null 2>&1 || useradd --system --user-group --no-create-home --shell /usr/sbin/nologin vmail
id dovenull >/dev/null 2>&1 || useradd --system --no-create-home --shell /usr/sbin/nologin dovenull
id dovecot >/dev/null 2>&1 || useradd --system --no-create-home --shell /usr/sbin/nologin dovecot

mkdir -p "$DIR"/{etc,tls,log,state,mail,run}
chmod 755 "$DIR" "$DIR/mail"; chown vmail:vmail "$DIR/mail"

if [ ! -s "$DIR/tls/cert.pem" ]; then
  ( cd "$DIR/tls"
    openssl req -x509 -newkey rsa:2048 -nodes -days 365 -subj "/CN=pult test CA" \
      -addext "basicConstraints=critical,CA:TRUE" -addext "keyUsage=critical,keyCertSign" \
      -keyout ca.key -out ca.pem 2>/dev/null
    openssl req -newkey rsa:2048 -nodes -subj "/CN=127.0.0.1" -keyout key.pem -out leaf.csr 2>/dev/null
    printf 'basicConstraints=critical,CA:FALSE\nextendedKeyUsage=serverAuth\nsubjectAltName=IP:127.0.0.1,DNS:localhost\n' > leaf.ext
    openssl x509 -req -in leaf.csr -CA ca.pem -CAkey ca.key -CAcreateserial -days 365 -extfile leaf.ext -out cert.pem 2>/dev/null
    chmod 600 ca.key key.pem )
fi

printf 'alice:{PLAIN}secret::::::\nbob:{PLAIN}secret::::::\ncarol:{PLAIN}secret::::::\n' > "$DIR/etc/passwd"
chgrp dovecot "$DIR/etc/passwd"; chmod 640 "$DIR/etc/passwd"

cat > "$CONF" <<CONF
protocols = imap lmtp
listen = 127.0.0.1
base_dir = $DIR/run
state_dir = $DIR/state
instance_name = pult-test-$IMAP_PORT
log_path = $DIR/log/dovecot.log
default_login_user = dovenull
default_internal_user = dovecot
disable_plaintext_auth = no
auth_mechanisms = plain login
auth_failure_delay = 0 secs
auth_username_format = %Ln
ssl = yes
ssl_cert = <$DIR/tls/cert.pem
ssl_key = <$DIR/tls/key.pem
mail_location = maildir:~/Maildir
first_valid_uid = 100
mail_max_userip_connections = 100
mailbox_idle_check_interval = 1 secs
namespace inbox {
  inbox = yes
  separator = /
  mailbox Sent {
    special_use = \\Sent
    auto = subscribe
  }
}
passdb {
  driver = passwd-file
  args = scheme=PLAIN $DIR/etc/passwd
}
userdb {
  driver = passwd-file
  args = $DIR/etc/passwd
  override_fields = uid=vmail gid=vmail home=$DIR/mail/%n
}
service imap-login {
  inet_listener imap {
    address = 127.0.0.1
    port = $IMAP_PORT
  }
  inet_listener imaps {
    address = 127.0.0.1
    port = $IMAPS_PORT
    ssl = yes
  }
}
service lmtp {
  inet_listener lmtp {
    address = 127.0.0.1
    port = $LMTP_PORT
  }
}
service auth {
  unix_listener auth-client {
    mode = 0666
  }
}
protocol lmtp {
  postmaster_address = postmaster@office.test
}
service anvil {
  unix_listener anvil-auth-penalty {
    mode = 0
  }
}
CONF

# A test that needs another server (SPECIAL-USE folders with Russian names, an
# OAuth2 passdb, fewer capabilities) starts its own instance with more settings.
if [ -n "${PULT_DOVECOT_EXTRA:-}" ]; then printf '%s\n' "$PULT_DOVECOT_EXTRA" >> "$CONF"; fi

# The daemon keeps the descriptors it starts with: give it files, not our pipes.
dovecot -c "$CONF" </dev/null >"$DIR/log/startup.log" 2>&1 || { cat "$DIR/log/startup.log" >&2; exit 1; }
for _ in $(seq 100); do
  (exec 3<>/dev/tcp/127.0.0.1/"$IMAP_PORT") 2>/dev/null && (exec 3<>/dev/tcp/127.0.0.1/"$IMAPS_PORT") 2>/dev/null && exit 0
  sleep 0.1
done
echo "dovecot.sh: Dovecot did not open its ports" >&2; exit 1
