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
Every command uses the same scheme (\fBversync COMMAND \-\-help\fR says which apply):
.TP
.B 0
done: in sync (\fBverify\fR), drained (\fBonce\fR), copied (\fBbackfill\fR), valid (\fBcheck\fR)
.TP
.B 1
done, but something is left: \fBverify\fR found drift, \fBonce\fR left a parked table's changes
queued, \fBbackfill\fR had documents refused, or a signal interrupted the work
.TP
.B 2
usage or configuration error, including credentials PostgreSQL or the store refuse and a
database \fBversync init\fR has not set up: a retry cannot help until the config is fixed
.TP
.B 3
PostgreSQL or the store unreachable (or answering 5xx/429 until the command gave up):
nothing is lost; run it again later
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
