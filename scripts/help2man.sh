#!/usr/bin/env bash
# help2man.sh PROGRAM BINARY "one-line description" > PROGRAM.1
# A man page made from the program's own --help text, so the two cannot
# disagree: NAME from the description, the help text verbatim under
# DESCRIPTION, then the exit status, files and see-also that apply.
set -euo pipefail
prog=$1 bin=$2 what=$3

# --help goes to stdout by convention; fall back to stderr for a program
# that prints it there. Its exit status does not matter here.
text=$("$bin" --help 2>/dev/null || true)
[ -n "$text" ] || text=$("$bin" --help 2>&1 || true)

# roff: a backslash is \e, and a line starting with . or ' would be a request.
escape() { sed -e 's/\\/\\e/g' -e "s/^\([.']\)/\\\\\&\1/"; }

upper=$(printf '%s' "$prog" | tr '[:lower:]' '[:upper:]')
printf '.TH %s 1 "" "%s" "User Commands"\n' "$upper" "$prog"
printf '.SH NAME\n%s \\- %s\n' "$prog" "$(printf '%s' "$what" | escape)"
printf '.SH DESCRIPTION\n.nf\n'
printf '%s\n' "$text" | escape
printf '.fi\n'
case "$prog" in
  versync)
    cat <<'ROFF'
.SH EXIT STATUS
.TP
.B 0
done (for \fBonce\fR: the change table was drained; for \fBverify\fR: no drift)
.TP
.B 1
failure: the target or PostgreSQL is unreachable, or \fBverify\fR found drift
.TP
.B 2
usage or config error
.SH FILES
.TP
.I /etc/versync/versync.json
config used by versync.service; \fIversync@NAME.service\fR reads \fI/etc/versync/NAME.json\fR
.TP
.I /etc/versync/versync.env
optional secrets (PGPASSWORD=\&..., variables the config names as ${NAME})
.SH SEE ALSO
.BR verstore (1),
.BR systemd.service (5),
.BR flock (1)
ROFF
    ;;
  verstore)
    cat <<'ROFF'
.SH FILES
.TP
.I /var/lib/verstore
data directory used by verstore.service (LMDB)
.SH SEE ALSO
.BR versync (1)
ROFF
    ;;
esac
