#!/usr/bin/env bash
# Start Dovecot (Debian's dovecot-imapd) on 127.0.0.1 for the IMAP intake tests, with test users made here.
#   tests/imap/start-dovecot.sh [ROOT]   (ROOT: its folder, default /tmp/supportdesk-dovecot; port: IMAP_TEST_PORT, 10143)
# Prints the port once Dovecot answers. Running it again while that Dovecot runs changes nothing.
# Users (passwd-file, plaintext passwords: a loopback server for tests only): support@desk.test and
# sales@desk.test, both with the password "desk-test-password".
set -euo pipefail
here="$(cd "$(dirname "$0")" && pwd)"
root="${1:-/tmp/supportdesk-dovecot}"
port="${IMAP_TEST_PORT:-10143}"

answers() { (exec 3<>"/dev/tcp/127.0.0.1/$port" && head -c 4 <&3 | grep -q '^\* OK') 2>/dev/null; }

if answers; then echo "$port"; exit 0; fi
command -v dovecot >/dev/null || { echo "dovecot is not installed (apt-get install dovecot-imapd)" >&2; exit 2; }

# Mail is stored as an unprivileged user (Dovecot refuses root): nobody, or whoever runs this.
if [ "$(id -u)" = 0 ]; then mail_user=nobody; else mail_user="$(id -un)"; fi
mail_uid="$(id -u "$mail_user")" mail_gid="$(id -g "$mail_user")"
mkdir -p "$root/run" "$root/state" "$root/mail"
chmod 755 "$root"
chown "$mail_uid:$mail_gid" "$root/mail" 2>/dev/null || true
password="desk-test-password"
: >"$root/users"
for user in support@desk.test sales@desk.test; do
  echo "$user:{PLAIN}$password::::::" >>"$root/users"
done
sed -e "s|@ROOT@|$root|g" -e "s|@PORT@|$port|g" -e "s|@MAIL_UID@|$mail_uid|g" -e "s|@MAIL_GID@|$mail_gid|g" "$here/dovecot.conf" >"$root/dovecot.conf"
if [ "$(id -u)" != 0 ]; then  # unprivileged: every Dovecot process runs as this user
  sed -i -e "s|^default_login_user = .*|default_login_user = $mail_user|" \
         -e "s|^default_internal_user = .*|default_internal_user = $mail_user|" "$root/dovecot.conf"
fi

# Its daemon must not hold our output open (a caller reading it, as the tests do, would wait for ever).
dovecot -c "$root/dovecot.conf" </dev/null >/dev/null 2>"$root/start.err" || { cat "$root/start.err" >&2; exit 1; }
for _ in $(seq 50); do
  if answers; then echo "$port"; exit 0; fi
  sleep 0.1
done
echo "Dovecot did not answer on 127.0.0.1:$port; its log:" >&2
tail -n 20 "$root/dovecot.log" >&2 || true
exit 1
