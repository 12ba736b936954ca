#!/usr/bin/env bash
# A private Postfix on 127.0.0.1 that delivers everything over LMTP into the
# Dovecot of scripts/dovecot.sh (so a sent mail can be read back over IMAP), with
# SMTP AUTH checked by Dovecot. Nothing leaves the machine.
#
#   scripts/postfix.sh start DIR SMTP_PORT DOVECOT_DIR LMTP_PORT
#   scripts/postfix.sh stop DIR
set -euo pipefail
cmd=${1:?start|stop}; DIR=$(realpath -m "${2:?data dir}"); CFG=$DIR/etc

if [ "$cmd" = stop ]; then
  if [ -f "$CFG/main.cf" ]; then
    postfix -c "$CFG" stop >/dev/null 2>&1 || true
    # `postfix stop` returns before the master exits.
    for _ in $(seq 100); do postfix -c "$CFG" status >/dev/null 2>&1 || break; sleep 0.1; done
  fi
  exit 0
fi
SMTP_PORT=${3:?smtp port}; DOVE=$(realpath -m "${4:?dovecot dir}"); LMTP_PORT=${5:?lmtp port}

[ "$(id -u)" = 0 ] || { echo "postfix.sh: run as root" >&2; exit 1; }
if ! command -v postfix >/dev/null; then
  export DEBIAN_FRONTEND=noninteractive
  # "No configuration": the package must not write /etc/postfix/main.cf or start a system MTA.
  echo "postfix postfix/main_mailer_type select No configuration" | debconf-set-selections
  apt-get install -y -qq --no-install-recommends postfix >/dev/null 2>&1 ||
    { apt-get update -qq && apt-get install -y -qq --no-install-recommends postfix >/dev/null; }
fi
[ -S "$DOVE/run/auth-client" ] || { echo "postfix.sh: no Dovecot auth socket in $DOVE/run" >&2; exit 1; }

mkdir -p "$CFG" "$DIR/log" "$DIR/queue" "$DIR/lib"
chmod 755 "$DIR"; chown postfix:postfix "$DIR/lib"; touch "$DIR/log/postfix.log"
# Every recipient lands in a local mailbox: known users by name, everyone else
# (the "clients" of the tests) in carol's; but nobody@ goes to a user Dovecot
# does not have, so its LMTP refuses it (550 5.1.1) and the sender gets
# Postfix's RFC 3464 bounce.
printf '/^(alice|bob|carol)@.*$/ ${1}@office.test\n/^nobody@.*$/ nobody@office.test\n/^.*$/ carol@office.test\n' \
  > "$CFG/virtual_regexp"

cat > "$CFG/main.cf" <<CF
compatibility_level = 3.6
queue_directory = $DIR/queue
data_directory = $DIR/lib
mail_owner = postfix
setgid_group = postdrop
maillog_file = $DIR/log/postfix.log
maillog_file_prefixes = /var, /dev/stdout, $DIR/log
syslog_name = pult-test-postfix-$SMTP_PORT
myhostname = mail.office.test
mydomain = office.test
myorigin = office.test
mydestination =
inet_interfaces = 127.0.0.1
inet_protocols = ipv4
mynetworks = 127.0.0.1/32
alias_maps =
alias_database =
disable_dns_lookups = yes
smtp_dns_support_level = disabled
default_transport = error:no outbound mail from the test instance
virtual_mailbox_domains = office.test
virtual_transport = lmtp:inet:127.0.0.1:$LMTP_PORT
virtual_alias_maps = regexp:$CFG/virtual_regexp
virtual_alias_domains =
smtpd_tls_cert_file = $DOVE/tls/cert.pem
smtpd_tls_key_file = $DOVE/tls/key.pem
smtpd_tls_security_level = may
smtpd_sasl_auth_enable = yes
smtpd_sasl_type = dovecot
smtpd_sasl_path = $DOVE/run/auth-client
smtpd_relay_restrictions = permit_sasl_authenticated, reject_unauth_destination
smtputf8_enable = yes
queue_run_delay = 2s
minimal_backoff_time = 2s
maximal_backoff_time = 10s
CF

cat > "$CFG/master.cf" <<CF
127.0.0.1:$SMTP_PORT inet n - n - - smtpd
pickup    unix  n       -       n       60      1       pickup
cleanup   unix  n       -       n       -       0       cleanup
qmgr      unix  n       -       n       300     1       qmgr
tlsmgr    unix  -       -       n       1000?   1       tlsmgr
rewrite   unix  -       -       n       -       -       trivial-rewrite
bounce    unix  -       -       n       -       0       bounce
defer     unix  -       -       n       -       0       bounce
trace     unix  -       -       n       -       0       bounce
verify    unix  -       -       n       -       1       verify
flush     unix  n       -       n       1000?   0       flush
proxymap  unix  -       -       n       -       -       proxymap
smtp      unix  -       -       n       -       -       smtp
showq     unix  n       -       n       -       -       showq
error     unix  -       -       n       -       -       error
retry     unix  -       -       n       -       -       error
discard   unix  -       -       n       -       -       discard
lmtp      unix  -       -       n       -       -       lmtp
anvil     unix  -       -       n       -       1       anvil
scache    unix  -       -       n       -       1       scache
postlog   unix-dgram n  -       n       -       1       postlogd
CF

postfix -c "$CFG" check
postfix -c "$CFG" start </dev/null >"$DIR/log/start.log" 2>&1 || { cat "$DIR/log/start.log" >&2; exit 1; }
for _ in $(seq 100); do (exec 3<>/dev/tcp/127.0.0.1/"$SMTP_PORT") 2>/dev/null && exit 0; sleep 0.1; done
echo "postfix.sh: Postfix did not open port $SMTP_PORT" >&2; exit 1
