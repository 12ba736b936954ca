#!/usr/bin/env bash
# Email benchmark: initial sync of N mails from a local Dovecot into the store,
# against mbsync (isync) syncing the same mailbox into a maildir, in the same
# run, server cache warm for both. Medians of 3 runs each. Needs root.
#
#   scripts/bench-email.sh [N]        (default 50000; N=0 skips that part)
#   CORPUS=real scripts/bench-email.sh 20000
#       which mails: `real` (default) is ../shared/reference/gen_corpus.py, shaped
#       like business mail (MIME mix, Cyrillic headers, threads, quoted text;
#       GEN=path picks another copy of it, SEED=n another seed); `pult` is pult's
#       own generator (4 KB plain mails); `both` runs one after the other.
#   LAZY=500 scripts/bench-email.sh   (mails with a 1 MB attachment; LAZY=0 skips that part)
#   SEARCH=1 scripts/bench-email.sh 20000   (then search: pult's store vs notmuch over mbsync's maildir of the same mails)
#
# For each corpus it prints pult with word forms (the product), pult with
# SQLite's unicode61 tokenizer (the index before word forms), mbsync, the
# message index's size as built (the text each author wrote) and rebuilt from
# whole bodies (quoted thread included), and how many mails each finds for a
# few queries. At the end it prints the same figures as Markdown tables, each
# beside its same-run baseline, headed by the machine, its load average when the
# run began, the date and the command: README.md's tables are pasted from there.
set -euo pipefail
cd "$(dirname "$0")/.."
N=${1:-50000}
# The machine and the command, taken before this run loads it.
load_at_start=$(cut -d' ' -f1-3 /proc/loadavg)
cpu_model=$(awk -F': ' '/^model name/ {print $2; exit}' /proc/cpuinfo)
command_line="scripts/bench-email.sh $*"
for v in PULT GEN SEED CORPUS LAZY SEARCH; do [ -z "${!v:-}" ] || command_line="$v=${!v} $command_line"; done
[ "$(id -u)" = 0 ] || { echo "run as root (starts a private Dovecot)" >&2; exit 1; }
export DEBIAN_FRONTEND=noninteractive
need=()
command -v mbsync >/dev/null || need+=(isync)
[ -x /usr/bin/time ] || need+=(time)
[ -z "${SEARCH:-}" ] || command -v notmuch >/dev/null || need+=(notmuch)
[ ${#need[@]} -eq 0 ] || apt-get install -y -qq --no-install-recommends "${need[@]}" >/dev/null

# PULT=/path/to/another/pult compares builds on the same machine (no build
# then); its corpus and store tools come from the pult-bench built beside it.
if [ -z "${PULT:-}" ]; then
  cargo build --release --locked -q
  PULT=$PWD/target/release/pult
fi
BENCH=${PULT_BENCH:-$(dirname "$PULT")/pult-bench}
[ -x "$BENCH" ] || { echo "no $BENCH (cargo build --release builds it; or set PULT_BENCH)" >&2; exit 1; }
work=$(mktemp -d); chmod 755 "$work"
md=$work/report.md
printf 'Produced by `%s` on %s (%s CPUs, %s; load average %s at the start).\n' \
  "$command_line" "$(date -u '+%Y-%m-%d %H:%M UTC')" "$(nproc)" "$cpu_model" "$load_at_start" > "$md"
# The Markdown tables, printed once the run is through.
print_markdown() { echo; echo "--- Markdown for README.md ---"; cat "$md"; }
trap 'scripts/dovecot.sh stop "$work/dovecot"; rm -rf "$work"' EXIT
scripts/dovecot.sh start "$work/dovecot" 12143 12993 12145
CONF=$work/dovecot/etc/dovecot.conf

CORPUS=${CORPUS:-real}
GEN=${GEN:-../shared/reference/gen_corpus.py}
case "$CORPUS" in
  real|both) [ -f "$GEN" ] || { echo "no $GEN: set GEN=path/to/gen_corpus.py or CORPUS=pult" >&2; exit 1; } ;;
  pult) ;;
  *) echo "CORPUS is real, pult or both" >&2; exit 1 ;;
esac
# Fills INBOX with N mails of corpus $1 (real or pult).
generate() {
  echo "generating $N mails ($1) …" >&2
  rm -rf "$work/dovecot/mail/alice"; mkdir -p "$work/dovecot/mail/alice"
  if [ "$1" = real ]; then
    python3 "$GEN" --out "$work/dovecot/mail/alice/Maildir" -n "$N" --seed "${SEED:-1}" >/dev/null
  else
    "$BENCH" gen-maildir --out "$work/dovecot/mail/alice/Maildir" --count "$N"
  fi
  chown -R vmail:vmail "$work/dovecot/mail/alice"
  doveadm -c "$CONF" index -u alice INBOX
  du -sh "$work/dovecot/mail/alice/Maildir" >&2
}

printf 'secret' > "$work/pw"; chmod 600 "$work/pw"
cat > "$work/pult.toml" <<TOML
[[accounts]]
kind = "email"
name = "bench"
address = "alice@office.test"
imap = { host = "127.0.0.1", port = 12143, tls = "none", insecure = true, user = "alice", password_file = "$work/pw" }
smtp = { host = "127.0.0.1", port = 25, tls = "none", insecure = true, user = "alice", password_file = "$work/pw" }
folders = ["INBOX"]
TOML
cat > "$work/mbsyncrc" <<RC
IMAPAccount bench
Host 127.0.0.1
Port 12143
User alice
Pass secret
TLSType None
AuthMechs LOGIN

IMAPStore remote
Account bench

MaildirStore local
Path $work/mb/
Inbox $work/mb/INBOX

Channel bench
Far :remote:
Near :local:
Patterns INBOX
Create Near
Sync Pull
SyncState *
RC
# isync 1.4 spells TLSType as SSLType.
mbsync --version 2>/dev/null | grep -q ' 1\.4' && sed -i 's/^TLSType/SSLType/' "$work/mbsyncrc"
# The same without a flush per mail: the yardstick (mbsync's fsync time swings
# 9–29 s between runs on the development machine; this does the same network
# and parsing work, minus the flushes).
{ echo "FSync no"; cat "$work/mbsyncrc"; } > "$work/mbsyncrc-nofsync"

# PREP is run on an empty store first (the unicode61 variant).
# Each timed run starts with no other run's data still to be written out
# (sync, untimed): what one left in the page cache slowed whichever came next.
# Nor does it follow a deletion: the last run's output is moved aside (a
# rename) and deleted only when the benchmark ends. Deleting 20,000 files just
# before a run slowed that run more every round (ext4 mounted with `discard`
# here): mbsync `FSync no` took 1.4 s into a new directory every time, and
# 5.6, 11.7, 12.9 s in rounds that followed an `rm -rf` of the last maildir.
# (Runs happen in subshells: each gets a directory of its own from mktemp.)
move_aside() { local to; mkdir -p "$work/old"; to=$(mktemp -d "$work/old/run.XXXXXX"); for f in "$@"; do [ ! -e "$f" ] || mv "$f" "$to/"; done; }
pult_run() { move_aside "$work"/s.db*; sync; [ -z "${PREP:-}" ] || "$BENCH" store $PREP --store "$work/s.db"; /usr/bin/time -f '%e %M %S' -o "$work/t" "$PULT" sync --once --config "$work/pult.toml" --store "$work/s.db" >/dev/null; cat "$work/t"; }
mbsync_run() { move_aside "$work/mb"; mkdir -p "$work/mb"; sync; /usr/bin/time -f '%e %M %S' -o "$work/t" mbsync -q -c "$work/mbsyncrc${NOFSYNC:+-nofsync}" bench >/dev/null 2>&1; cat "$work/t"; }
# The wire: one UID FETCH of every mail, read to the end (no parsing, no store).
wire_run() { python3 scripts/imap-wire.py 127.0.0.1 12143 alice secret INBOX; }
median() { sort -n | awk '{a[NR]=$1} END {print a[int((NR+1)/2)]}'; }
# One warm-up each, then three alternating rounds: sets pt, mt (median seconds) and prss_mb.
measure() {
  pult_run >/dev/null; mbsync_run >/dev/null
  p=(); m=(); prss=(); u=(); f=(); w=()
  for _ in 1 2 3; do
    read -r t _ < <(wire_run); w+=("$t")
    [ -z "${OLD_TOKENIZER:-}" ] || { read -r t _ < <(PREP=--unicode61 pult_run); u+=("$t"); }
    read -r t r ps < <(pult_run); p+=("$t"); prss+=("$r")
    read -r t _ fs < <(NOFSYNC=1 mbsync_run); f+=("$t")
    read -r t _ < <(mbsync_run); m+=("$t")
    echo "round: wire ${w[-1]} s, pult ${p[-1]} s (system ${ps} s), mbsync FSync no ${f[-1]} s (system ${fs} s), mbsync ${m[-1]} s" >&2
  done
  pt=$(printf '%s\n' "${p[@]}" | median); mt=$(printf '%s\n' "${m[@]}" | median)
  ft=$(printf '%s\n' "${f[@]}" | median)
  # mbsync's fastest round: its time swings with the disk's mood (its system
  # time grows, not its own work), so pult is also set against its best.
  fb=$(printf '%s\n' "${f[@]}" | sort -n | head -1)
  wt=$(printf '%s\n' "${w[@]}" | median)
  ut=$( [ ${#u[@]} -eq 0 ] && echo 0 || printf '%s\n' "${u[@]}" | median)
  prss_mb=$(printf '%s\n' "${prss[@]}" | median | awk '{printf "%.0f", $1/1024}')
}

# The whole comparison on corpus $1.
sync_bench() {
generate "$1"
echo "warming the server cache …" >&2
OLD_TOKENIZER=1 measure
# A resync with nothing new (store and maildir from the last runs).
read -r pr _ < <(/usr/bin/time -f '%e %M' -o /dev/stdout "$PULT" sync --once --config "$work/pult.toml" --store "$work/s.db" 2>/dev/null | tail -1)
read -r mr _ < <(/usr/bin/time -f '%e %M' -o /dev/stdout mbsync -q -c "$work/mbsyncrc" bench | tail -1)
awk -v n="$N" -v c="$1" -v pt="$pt" -v ut="$ut" -v mt="$mt" -v ft="$ft" -v fb="$fb" -v wt="$wt" -v pr="$pr" -v mr="$mr" -v rss="$prss_mb" 'BEGIN {
  printf "initial sync of %d mails, corpus %s (median of 3, server cache warm)\n", n, c
  printf "  pult   %6.2f s  %8.0f mails/s  peak RSS %s MB  (word forms)\n", pt, n/pt, rss
  printf "  pult   %6.2f s  %8.0f mails/s  (unicode61 tokenizer, the index before word forms)\n", ut, n/ut
  printf "  mbsync %6.2f s  %8.0f mails/s  (FSync no)\n", ft, n/ft
  printf "  mbsync %6.2f s  %8.0f mails/s  (default: fsync per mail)\n", mt, n/mt
  printf "  wire   %6.2f s  %8.0f mails/s  (one UID FETCH 1:* BODY.PEEK[] read to the end, scripts/imap-wire.py)\n", wt, n/wt
  printf "  pult / mbsync FSync no: %.2fx its time (target <= 1.0)\n", pt/ft
  printf "  pult / mbsync FSync no in its fastest round (%.2f s): %.2fx\n", fb, pt/fb
  printf "  pult / wire: %.1fx its time\n", pt/wt
  printf "  pult is %.1fx mbsync default (%.2f of its time)\n", mt/pt, pt/mt
  printf "no-change resync: pult %.3f s, mbsync %.3f s\n", pr, mr }'
awk -v n="$N" -v c="$1" -v pt="$pt" -v ut="$ut" -v mt="$mt" -v ft="$ft" -v fb="$fb" -v wt="$wt" -v pr="$pr" -v mr="$mr" -v rss="$prss_mb" \
    -v seed="${SEED:-1}" 'function row(name, t) { printf "| %s | %.2f s | %.0f | %.2f× |\n", name, t, n/t, pt/t }
BEGIN {
  corpus = c == "real" ? "`gen_corpus.py` seed " seed : "pult-bench gen-maildir"
  printf "\n| initial sync of %d mails (%s), medians of 3, alternating | time | mails/s | pult / this |\n", n, corpus
  print "|---|---|---|---|"
  printf "| pult (word forms), peak RSS %s MB | %.2f s | %.0f | — |\n", rss, pt, n/pt
  row("pult with SQLite'"'"'s `unicode61` tokenizer", ut)
  row("mbsync `FSync no` (target: pult / this ≤ 1.0)", ft)
  row("mbsync `FSync no`, its fastest round", fb)
  row("mbsync default (fsync per mail)", mt)
  row("the wire: one `UID FETCH 1:* BODY.PEEK[]` read to the end", wt)
  printf "| no-change resync: pult / mbsync default | %.3f s / %.3f s | | %.2f× |\n", pr, mr, pr/mr }' >> "$md"
# The index as built (what each author wrote) and from whole bodies, on the same mails.
hits() { for q in 'оплата' 'invoice' '"акт сверки взаиморасчётов"' '"quarterly revenue forecast"'; do
  printf ' %s' "$("$PULT" search --limit 1000000 --json --store "$1" -- "$q" | python3 -c 'import json,sys; print(len(json.load(sys.stdin)))')"; done; }
for f in "$work"/s.db*; do cp "$f" "${f/s.db/whole.db}"; done
"$BENCH" store --whole-bodies --store "$work/whole.db"
ib=$("$BENCH" store --report --store "$work/s.db" | python3 -c 'import json,sys; print(json.load(sys.stdin)["index_bytes"])')
wb=$("$BENCH" store --report --store "$work/whole.db" | python3 -c 'import json,sys; print(json.load(sys.stdin)["index_bytes"])')
awk -v a="$ib" -v b="$wb" 'BEGIN { printf "message index: %.1f MB as built (authored text), %.1f MB from whole bodies (%.2fx)\n", a/1048576, b/1048576, a/b }'
echo "hits for оплата / invoice / \"акт сверки взаиморасчётов\" / \"quarterly revenue forecast\":"
echo "  as built:          $(hits "$work/s.db")"
echo "  from whole bodies: $(hits "$work/whole.db")"
rm -f "$work"/whole.db*
# Clients of the same mail (one per sender): the list and the merge suggestions
# as `pult clients` / `pult client suggestions` give them, each a new process,
# medians of 5; baseline: the same process start and store open for `pult status`.
ms() { local t0 t1; t0=$(date +%s%N); "$@" >/dev/null; t1=$(date +%s%N); echo $(( (t1 - t0) / 1000000 )); }
med5() { for _ in 1 2 3 4 5; do ms "$@"; done | median; }
nc=$("$PULT" clients --json --store "$work/s.db" | python3 -c 'import json,sys; print(len(json.load(sys.stdin)))')
cb=$(med5 "$PULT" status --store "$work/s.db")
cl=$(med5 "$PULT" clients --json --store "$work/s.db")
cs=$(med5 "$PULT" client suggestions --json --store "$work/s.db")
echo "clients ($nc): list ${cl} ms, merge suggestions ${cs} ms; baseline (pult status, same store) ${cb} ms"
printf '\n| %s clients, each a new process, medians of 5 | pult | baseline: `pult status`, same store | ratio |\n|---|---|---|---|\n' "$nc" >> "$md"
awk -v b="$cb" -v l="$cl" -v s="$cs" 'BEGIN {
  printf "| the list (`pult clients`) | %d ms | %d ms | %.1f× |\n", l, b, l/b
  printf "| merge suggestions (`pult client suggestions`) | %d ms | %d ms | %.1f× |\n", s, b, s/b }' >> "$md"

if [ -n "${SEARCH:-}" ]; then
  # The same mails twice: pult's store from its last sync, mbsync's maildir
  # indexed by notmuch (which stems English only). Each query runs as a new
  # process in both, first page (50), median of 7 after one warm-up.
  mkdir -p "$work/nmhome"
  printf '[database]\npath=%s\n[new]\ntags=\n[search]\nexclude_tags=\n' "$work/mb" > "$work/nmhome/.notmuch-config"
  nm() { HOME="$work/nmhome" NOTMUCH_CONFIG="$work/nmhome/.notmuch-config" notmuch "$@"; }
  /usr/bin/time -f '%e' -o "$work/t" env HOME="$work/nmhome" NOTMUCH_CONFIG="$work/nmhome/.notmuch-config" notmuch new --quiet
  cp "$work/t" "$work/nmnew"
  echo "notmuch new (index the maildir): $(cat "$work/nmnew") s; pult indexed while syncing"
  timed() { local t0 t1; t0=$(date +%s%N); "$@" >/dev/null; t1=$(date +%s%N); echo $(( (t1 - t0) / 1000 )); }
  printf '%-34s %12s %12s %7s\n' "query (first 50, process start included)" "pult ms" "notmuch ms" "ratio"
  printf '\n| query (each a new process, first 50, median of 7) | pult | notmuch, same mails | pult / notmuch | hits: pult / notmuch |\n|---|---|---|---|---|\n' >> "$md"
  logs=0; queries=0
  # Each line: pult's query, then notmuch's when it spells it otherwise.
  while IFS='|' read -r q nq <&3; do
    nq=${nq:-$q}
    "$PULT" search --limit 50 --store "$work/s.db" -- "$q" >/dev/null; nm search --limit=50 "$nq" >/dev/null
    p=(); n=()
    for _ in 1 2 3 4 5 6 7; do
      p+=("$(timed "$PULT" search --limit 50 --store "$work/s.db" -- "$q")")
      n+=("$(timed nm search --limit=50 "$nq")")
    done
    pm=$(printf '%s\n' "${p[@]}" | median); nmm=$(printf '%s\n' "${n[@]}" | median)
    ph=$("$PULT" search --limit 100000 --json --store "$work/s.db" -- "$q" | python3 -c 'import json,sys; print(len(json.load(sys.stdin)))')
    nh=$(nm count "$nq")
    awk -v q="$q" -v p="$pm" -v n="$nmm" -v ph="$ph" -v nh="$nh" 'BEGIN {
      printf "%-34s %9.1f ms %9.1f ms %6.2fx   hits: pult %d (word forms), notmuch %d\n", q, p/1000, n/1000, p/n, ph, nh }'
    awk -v q="$q" -v nq="$nq" -v p="$pm" -v n="$nmm" -v ph="$ph" -v nh="$nh" 'BEGIN {
      gsub(/\|/, "\\|", q); gsub(/\|/, "\\|", nq)
      printf "| `%s`%s | %.1f ms | %.1f ms | %.2f× | %d / %d |\n", q, (nq == q ? "" : " (notmuch: `" nq "`)"), p/1000, n/1000, p/n, ph, nh }' >> "$md"
    logs=$(awk -v s="$logs" -v p="$pm" -v n="$nmm" 'BEGIN { printf "%.6f", s + log(p/n) }'); queries=$((queries + 1))
  done 3<<'QUERIES'
оплата
invoice
"акт сверки взаиморасчётов"
"quarterly revenue forecast"
zanzibarite
has:attachment|tag:attachment
invoice after:2024-01-01|invoice date:2024-01-01..
from:Иванов
QUERIES
  awk -v s="$logs" -v k="$queries" 'BEGIN { printf "geometric mean of pult / notmuch over %d queries: %.2fx (target <= 0.6)\n", k, exp(s/k) }'
  awk -v s="$logs" -v k="$queries" -v t="$(cat "$work/nmnew")" 'BEGIN {
    printf "| geometric mean over the %d queries (target ≤ 0.6) | | | **%.2f×** | |\n", k, exp(s/k)
    printf "\nnotmuch needed %s s to index the maildir (`notmuch new`); pult indexed while syncing.\n", t }' >> "$md"
fi
}

if [ "$N" -gt 0 ]; then
  case "$CORPUS" in
    both) sync_bench pult; sync_bench real ;;
    *) sync_bench "$CORPUS" ;;
  esac
fi

# Lazy attachments: LAZY mails (default 500) that each carry a 1 MB scan, in a
# folder of their own. pult fetches headers, structure and text; mbsync fetches
# every byte. Then one attachment is fetched on demand. LAZY=0 skips this part.
LAZY=${LAZY:-500}
[ "$LAZY" -gt 0 ] || { print_markdown; exit 0; }
echo "generating $LAZY mails with a 1 MB attachment each …" >&2
"$BENCH" gen-maildir --out "$work/dovecot/mail/alice/Maildir/.Scans" --count "$LAZY" --attachment-kb 1024
touch "$work/dovecot/mail/alice/Maildir/.Scans/maildirfolder"
chown -R vmail:vmail "$work/dovecot/mail/alice"
doveadm -c "$CONF" index -u alice Scans
du -sh "$work/dovecot/mail/alice/Maildir/.Scans" >&2
sed -i 's/^folders = .*/folders = ["Scans"]/' "$work/pult.toml"
sed -i 's|^Patterns INBOX$|Patterns Scans|' "$work/mbsyncrc" "$work/mbsyncrc-nofsync"
measure
s=()
for _ in 1 2 3; do
  rm -rf "$work/out"
  /usr/bin/time -f '%e' -o "$work/t" "$PULT" attachment save --message 1 --to "$work/out" --config "$work/pult.toml" --store "$work/s.db" >/dev/null
  s+=("$(cat "$work/t")")
done
st=$(printf '%s\n' "${s[@]}" | median)
awk -v n="$LAZY" -v pt="$pt" -v mt="$mt" -v rss="$prss_mb" -v st="$st" 'BEGIN {
  printf "initial sync of %d mails with a 1 MB attachment each (median of 3)\n", n
  printf "  pult   %6.2f s  (text now, attachments on demand)  peak RSS %s MB\n", pt, rss
  printf "  mbsync %6.2f s  (every byte)\n", mt
  printf "  pult is %.1fx mbsync\n", mt/pt
  printf "one 1 MB attachment fetched and saved on demand: %.3f s\n", st }'
awk -v n="$LAZY" -v pt="$pt" -v mt="$mt" -v rss="$prss_mb" -v st="$st" 'BEGIN {
  printf "\n| initial sync of %d mails with a 1 MB attachment each, medians of 3 | pult | mbsync default, same run | pult / mbsync |\n|---|---|---|---|\n", n
  printf "| pult: text now, attachments on demand; peak RSS %s MB | %.2f s | %.2f s | %.2f× |\n", rss, pt, mt, pt/mt
  printf "| one attachment fetched and saved on demand (`pult attachment save`) | %.3f s | — | — |\n", st }' >> "$md"
print_markdown
