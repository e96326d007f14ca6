/* Writing a secret to a file, for the command-line tool's --key-dir: the
 * file is readable by its owner only, and at every moment the path holds
 * either what it held before or all of the new content.
 *
 * A temporary file next to the path is made by mkstemp (O_CREAT|O_EXCL, so
 * never an existing file and never through a symlink; mode 0600), written
 * in full, fsync'd, read back and compared, closed, then renamed over the
 * path (rename replaces a symlink there instead of following it), and the
 * directory is fsync'd so that the rename survives a crash. */
#include <errno.h>
#include <fcntl.h>
#include <stdio.h>
#include <string.h>
#include <unistd.h>
#include <sys/stat.h>
#include "compat.h"

#define ESC_KEYFILE_PATH_MAX 4096

/* Writes all of data to fd; 0 on success, else errno. */
static int esc_write_all(int fd, const char *data, size_t len)
{
  while (len > 0) {
    ssize_t n = write(fd, data, len);
    if (n < 0) {
      if (errno == EINTR)
        continue;
      return errno;
    }
    data += n;
    len -= (size_t)n;
  }
  return 0;
}

/* Reads fd from the start and compares it with data; 0 when equal, -1 when
 * different, else errno. */
static int esc_read_back(int fd, const char *data, size_t len)
{
  char chunk[4096];
  size_t seen = 0;
  if (lseek(fd, 0, SEEK_SET) != 0)
    return errno;
  for (;;) {
    ssize_t n = read(fd, chunk, sizeof chunk);
    if (n < 0) {
      if (errno == EINTR)
        continue;
      return errno;
    }
    if (n == 0)
      return seen == len ? 0 : -1;
    if ((size_t)n > len - seen || memcmp(chunk, data + seen, (size_t)n) != 0)
      return -1;
    seen += (size_t)n;
  }
}

static int esc_fsync_dir(const char *path)
{
  char dir[ESC_KEYFILE_PATH_MAX];
  const char *slash = strrchr(path, '/');
  int fd, rc = 0;
  if (!slash) {
    strcpy(dir, ".");
  } else if (slash == path) {
    strcpy(dir, "/");
  } else {
    memcpy(dir, path, (size_t)(slash - path));
    dir[slash - path] = '\0';
  }
  fd = open(dir, O_RDONLY | O_DIRECTORY | O_CLOEXEC);
  if (fd < 0)
    return errno;
  if (fsync(fd) != 0)
    rc = errno;
  if (close(fd) != 0 && rc == 0)
    rc = errno;
  return rc;
}

/* core.write_private_file(path, data) -> true
 *   | nil, message, renamed (true: path holds data, but the directory could
 *     not be synced, so the rename may not survive a crash)
 * The message names the path and the failing call, never the data. */
static int esc_l_write_private_file(lua_State *L)
{
  size_t path_len, len;
  const char *path = luaL_checklstring(L, 1, &path_len);
  const char *data = luaL_checklstring(L, 2, &len);
  char tmp[ESC_KEYFILE_PATH_MAX + 8];
  char msg[256];
  const char *what = NULL;
  int fd, rc = 0, renamed = 0;

  if (path_len == 0 || path_len >= ESC_KEYFILE_PATH_MAX || strlen(path) != path_len)
    return luaL_argerror(L, 1, "a path without NUL, shorter than 4096 bytes");
  memcpy(tmp, path, path_len);
  memcpy(tmp + path_len, ".XXXXXX", 8);

  fd = mkstemp(tmp);
  if (fd < 0) {
    rc = errno;
    what = "cannot create a temporary file next to";
  } else {
    int cmp;
    if (fchmod(fd, S_IRUSR | S_IWUSR) != 0) {
      rc = errno;
      what = "cannot set mode 0600 on the temporary file for";
    } else if ((rc = esc_write_all(fd, data, len)) != 0) {
      what = "cannot write the temporary file for";
    } else if (fsync(fd) != 0) {
      rc = errno;
      what = "cannot sync the temporary file for";
    } else if ((cmp = esc_read_back(fd, data, len)) != 0) {
      rc = cmp > 0 ? cmp : 0;
      what = "reading back the temporary file gave other content for";
    }
    if (close(fd) != 0 && !what) {
      rc = errno;
      what = "cannot close the temporary file for";
    }
    if (!what) {
      if (rename(tmp, path) != 0) {
        rc = errno;
        what = "cannot rename the temporary file onto";
      } else {
        renamed = 1;
        if ((rc = esc_fsync_dir(path)) != 0)
          what = "cannot sync the directory of";
      }
    }
    if (!renamed)
      unlink(tmp); /* best effort: the write already failed */
  }
  if (!what) {
    lua_pushboolean(L, 1);
    return 1;
  }
  if (rc)
    snprintf(msg, sizeof msg, ": %s", strerror(rc));
  else
    msg[0] = '\0';
  lua_pushnil(L);
  lua_pushfstring(L, "%s %s%s", what, path, msg);
  lua_pushboolean(L, renamed);
  return 3;
}
