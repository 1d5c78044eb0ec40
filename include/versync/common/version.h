/* version — the git revision both programs were built from (--version). */
#ifndef VERSYNC_VERSION_H
#define VERSYNC_VERSION_H

/* `git describe --always --dirty` of the tree the binary was built from
 * ("v1.2-3-g7082b0a", "7082b0a-dirty" before the first tag), or "unknown"
 * when the build did not run in a git checkout (a source tarball). Static
 * storage. */
const char *version_string(void);

#endif
