#!/usr/bin/env bash
# Day one with a real mailbox: N old mails of the realistic corpus
# (../shared/reference/gen_corpus.py, 2023–2025, list mail included) plus three
# fresh client mails and one fresh list mail, synced once by pult from a private
# Dovecot. Prints how long the first sync took and how many conversations wait
# for an answer against how many it kept as history. Needs root.
#
#   scripts/day-one.sh [N]          (default 3000)
#   PULT=/path/to/pult scripts/day-one.sh   (else target/release/pult, built if missing)
set -euo pipefail
cd "$(dirname "$0")/.."
N=${1:-3000}
[ "$(id -u)" = 0 ] || { echo "run as root (starts a private Dovecot)" >&2; exit 1; }
GEN=${GEN:-../shared/reference/gen_corpus.py}
[ -f "$GEN" ] || { echo "no $GEN (set GEN=path/to/gen_corpus.py)" >&2; exit 1; }
[ -x /usr/bin/time ] || apt-get install -y -qq --no-install-recommends time >/dev/null
if [ -z "${PULT:-}" ]; then
  [ -x target/release/pult ] || cargo build --release --locked -q --bin pult
  PULT=$PWD/target/release/pult
fi
work=$(mktemp -d); chmod 755 "$work"
trap 'scripts/dovecot.sh stop "$work/dovecot"; rm -rf "$work"' EXIT
imap=$((20000 + RANDOM % 20000))
scripts/dovecot.sh start "$work/dovecot" "$imap" $((imap + 1)) $((imap + 2)) >/dev/null

md="$work/dovecot/mail/alice/Maildir"
python3 "$GEN" --out "$md" -n "$N" --seed 1 --start 2023-01-01 --days 900 >/dev/null
now=$(date -u '+%a, %d %b %Y %H:%M:%S +0000')
mkdir -p "$md/new"
for i in 1 2 3; do
  printf 'From: Client %s <fresh%s@client.test>\r\nTo: alice@office.test\r\nSubject: Invoice %s\r\nMessage-ID: <fresh%s@client.test>\r\nDate: %s\r\n\r\nPlease send the invoice.\r\n' \
    "$i" "$i" "$i" "$i" "$now" > "$md/new/fresh$i.eml"
done
printf 'From: Bank news <news@bank.test>\r\nTo: alice@office.test\r\nSubject: New tariffs\r\nMessage-ID: <news@bank.test>\r\nDate: %s\r\nList-Id: Bank news <news.bank.test>\r\nPrecedence: list\r\n\r\nNew tariffs.\r\n' \
  "$now" > "$md/new/news.eml"
chown -R vmail:vmail "$work/dovecot/mail/alice"

printf 'secret' > "$work/pw"; chmod 600 "$work/pw"
cat > "$work/pult.toml" <<TOML
[[accounts]]
kind = "email"
name = "office"
address = "alice@office.test"
imap = { host = "127.0.0.1", port = $imap, tls = "none", insecure = true, user = "alice", password_file = "$work/pw" }
smtp = { host = "127.0.0.1", port = 25, tls = "none", insecure = true, user = "alice", password_file = "$work/pw" }
folders = ["INBOX"]
TOML
export XDG_CONFIG_HOME="$work/c" XDG_DATA_HOME="$work/d" XDG_STATE_HOME="$work/s"
/usr/bin/time -f '%e' -o "$work/t" "$PULT" sync --once --config "$work/pult.toml" --store "$work/s.db" > "$work/out"
echo "first sync of $((N + 4)) mails: $(cat "$work/t") s"
grep 'first sync' "$work/out" || true
"$PULT" status --config "$work/pult.toml" --store "$work/s.db" | head -2
lists=$(python3 -c "import sqlite3,sys; print(sqlite3.connect(sys.argv[1]).execute('SELECT count(*) FROM conversations WHERE automatic = 1').fetchone()[0])" "$work/s.db")
echo "lists & automatic: $lists conversation(s), never waiting"
