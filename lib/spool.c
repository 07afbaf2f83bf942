#include "config.h"

#include <dirent.h>
#include <errno.h>
#include <fcntl.h>
#include <limits.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/file.h>
#include <sys/stat.h>
#include <time.h>
#include <unistd.h>

#include "spool.h"
#include "util.h"

/* ---- the format ----------------------------------------------------------
 *
 *   payhook-spool 1
 *   endpoint: steppay-v2
 *   received-at: 2026-03-20T00:00:00.123456Z
 *   received-unix: 1773964800
 *   remote-addr: 127.0.0.1
 *   media-type: application/json
 *   signature-valid: true | false | null
 *   timezone: UTC
 *   header: Steppay-Signature: timestamp=...,key=...
 *   body-length: 123
 *   body-sha256: <hex>
 *   <empty line>
 *   <body-length bytes>
 *
 * Values are percent-encoded where a byte is a control character, DEL or
 * '%', so that each is one line. Every key appears once (header: up to
 * PH_SPOOL_HEADERS_MAX times); an unknown key is an error, so that a file
 * from a newer format is set aside rather than half understood. */

static bool
escape_into(char *out, size_t outlen, size_t *used, const char *s)
{
	static const char hex[] = "0123456789ABCDEF";
	const unsigned char *p;

	for (p = (const unsigned char *)s; *p != '\0'; p++) {
		if (*p < 0x20 || *p == 0x7f || *p == '%') {
			if (*used + 3 >= outlen)
				return false;
			out[(*used)++] = '%';
			out[(*used)++] = hex[*p >> 4];
			out[(*used)++] = hex[*p & 15];
		} else {
			if (*used + 1 >= outlen)
				return false;
			out[(*used)++] = (char)*p;
		}
	}
	return true;
}

static bool
line(char *out, size_t outlen, size_t *used, const char *key, const char *value)
{
	size_t klen = strlen(key);

	if (*used + klen + 2 >= outlen)
		return false;
	memcpy(out + *used, key, klen);
	*used += klen;
	out[(*used)++] = ':';
	out[(*used)++] = ' ';
	if (!escape_into(out, outlen, used, value) || *used + 1 >= outlen)
		return false;
	out[(*used)++] = '\n';
	return true;
}

enum ph_err
ph_spool_encode(const struct ph_spool_record *rec, char **out, size_t *outlen,
    char *err, size_t errlen)
{
	char head[PH_SPOOL_HEAD_MAX], num[32], sha[PH_SHA256_HEX_LEN + 1];
	char hline[2 * PH_SPOOL_FIELD_MAX + 4];
	size_t used = 0;
	bool fits;
	char *buf;
	int i;

	*out = NULL;
	*outlen = 0;
	if (rec->nheaders < 0 || rec->nheaders > PH_SPOOL_HEADERS_MAX)
		return ph_fail(err, errlen, PH_EBADREQ, "too many headers to spool");
	fits = (size_t)snprintf(head, sizeof head, "%s\n", PH_SPOOL_MAGIC) < sizeof head;
	used = strlen(head);
	snprintf(num, sizeof num, "%lld", rec->received_unix);
	fits = fits && line(head, sizeof head, &used, "endpoint", rec->endpoint) &&
	    line(head, sizeof head, &used, "received-at", rec->received_at) &&
	    line(head, sizeof head, &used, "received-unix", num) &&
	    line(head, sizeof head, &used, "remote-addr", rec->remote_addr) &&
	    line(head, sizeof head, &used, "media-type", rec->media_type) &&
	    line(head, sizeof head, &used, "signature-valid",
	    rec->signature_valid == PH_TRUE ? "true" :
	    rec->signature_valid == PH_FALSE ? "false" : "null") &&
	    line(head, sizeof head, &used, "timezone", rec->timezone);
	for (i = 0; fits && i < rec->nheaders; i++) {
		/* The name goes through the same escaping; ':' ends it. */
		if (strchr(rec->header[i].name, ':') != NULL || rec->header[i].name[0] == '\0')
			return ph_fail(err, errlen, PH_EBADREQ, "bad header name to spool");
		snprintf(hline, sizeof hline, "%s: %s", rec->header[i].name, rec->header[i].value);
		fits = line(head, sizeof head, &used, "header", hline);
	}
	snprintf(num, sizeof num, "%zu", rec->body_len);
	ph_sha256_hex(rec->body != NULL ? rec->body : "", rec->body_len, sha);
	fits = fits && line(head, sizeof head, &used, "body-length", num) &&
	    line(head, sizeof head, &used, "body-sha256", sha) && used + 1 < sizeof head;
	if (!fits)
		return ph_fail(err, errlen, PH_EBADREQ, "spool header over %d bytes",
		    PH_SPOOL_HEAD_MAX);
	head[used++] = '\n';
	buf = malloc(used + rec->body_len + 1);
	if (buf == NULL)
		return ph_fail(err, errlen, PH_ENOMEM, "out of memory");
	memcpy(buf, head, used);
	if (rec->body_len > 0)
		memcpy(buf + used, rec->body, rec->body_len);
	buf[used + rec->body_len] = '\0';
	*out = buf;
	*outlen = used + rec->body_len;
	return PH_OK;
}

static bool
unescape(const char *s, size_t len, char *out, size_t outlen)
{
	size_t i, o = 0;

	for (i = 0; i < len; i++) {
		int c = (unsigned char)s[i];

		if (c == '%') {
			int hi, lo;

			if (i + 2 >= len)
				return false;
			hi = ph_hex_digit(s[i + 1]);
			lo = ph_hex_digit(s[i + 2]);
			if (hi < 0 || lo < 0 || (hi == 0 && lo == 0))
				return false;
			c = hi * 16 + lo;
			i += 2;
		} else if (c < 0x20 || c == 0x7f) {
			return false;
		}
		if (o + 1 >= outlen)
			return false;
		out[o++] = (char)c;
	}
	out[o] = '\0';
	return true;
}

enum {
	K_ENDPOINT, K_RECEIVED_AT, K_RECEIVED_UNIX, K_REMOTE_ADDR, K_MEDIA_TYPE,
	K_SIGNATURE_VALID, K_TIMEZONE, K_HEADER, K_BODY_LENGTH, K_BODY_SHA256, K__COUNT
};

static const char *const keys[K__COUNT] = {
	"endpoint", "received-at", "received-unix", "remote-addr", "media-type",
	"signature-valid", "timezone", "header", "body-length", "body-sha256",
};

enum ph_err
ph_spool_decode(const char *buf, size_t len, struct ph_spool_record *rec,
    char *err, size_t errlen)
{
	char value[2 * PH_SPOOL_FIELD_MAX + 4], sha[PH_SHA256_HEX_LEN + 1];
	char want_sha[PH_SHA256_HEX_LEN + 1] = "";
	bool seen[K__COUNT] = {false};
	const char *p = buf, *end = buf + len, *nl;
	size_t magic = strlen(PH_SPOOL_MAGIC);
	uint64_t body_len = 0, u;
	int k;

	memset(rec, 0, sizeof *rec);
	rec->signature_valid = PH_NULL;
	if (len < magic + 1 || memcmp(buf, PH_SPOOL_MAGIC, magic) != 0 || buf[magic] != '\n')
		return ph_fail(err, errlen, PH_EBADREQ, "not a payhook spool file (version 1)");
	p += magic + 1;
	for (;;) {
		const char *colon;
		size_t klen;

		nl = memchr(p, '\n', (size_t)(end - p));
		if (nl == NULL || nl - buf > PH_SPOOL_HEAD_MAX)
			return ph_fail(err, errlen, PH_EBADREQ, "spool header truncated");
		if (nl == p) {
			p = nl + 1;
			break;
		}
		colon = memchr(p, ':', (size_t)(nl - p));
		if (colon == NULL || colon + 1 >= nl || colon[1] != ' ')
			return ph_fail(err, errlen, PH_EBADREQ, "spool header line malformed");
		klen = (size_t)(colon - p);
		for (k = 0; k < K__COUNT; k++)
			if (strlen(keys[k]) == klen && memcmp(p, keys[k], klen) == 0)
				break;
		if (k == K__COUNT)
			return ph_fail(err, errlen, PH_EBADREQ, "unknown spool field");
		if (seen[k] && k != K_HEADER)
			return ph_fail(err, errlen, PH_EBADREQ, "spool field %s twice", keys[k]);
		seen[k] = true;
		if (!unescape(colon + 2, (size_t)(nl - colon - 2), value,
		    k == K_HEADER ? sizeof value : PH_SPOOL_FIELD_MAX))
			return ph_fail(err, errlen, PH_EBADREQ, "spool field %s malformed", keys[k]);
		switch (k) {
		case K_ENDPOINT:
			ph_strlcpy(rec->endpoint, value, sizeof rec->endpoint);
			break;
		case K_RECEIVED_AT:
			ph_strlcpy(rec->received_at, value, sizeof rec->received_at);
			break;
		case K_RECEIVED_UNIX:
			if (!ph_parse_u64(value, (uint64_t)LLONG_MAX, &u))
				return ph_fail(err, errlen, PH_EBADREQ, "spool received-unix malformed");
			rec->received_unix = (long long)u;
			break;
		case K_REMOTE_ADDR:
			ph_strlcpy(rec->remote_addr, value, sizeof rec->remote_addr);
			break;
		case K_MEDIA_TYPE:
			ph_strlcpy(rec->media_type, value, sizeof rec->media_type);
			break;
		case K_SIGNATURE_VALID:
			if (strcmp(value, "true") == 0)
				rec->signature_valid = PH_TRUE;
			else if (strcmp(value, "false") == 0)
				rec->signature_valid = PH_FALSE;
			else if (strcmp(value, "null") == 0)
				rec->signature_valid = PH_NULL;
			else
				return ph_fail(err, errlen, PH_EBADREQ, "spool signature-valid malformed");
			break;
		case K_TIMEZONE:
			ph_strlcpy(rec->timezone, value, sizeof rec->timezone);
			break;
		case K_HEADER: {
			char *sep = strstr(value, ": ");
			struct ph_spool_header *h;

			if (rec->nheaders >= PH_SPOOL_HEADERS_MAX || sep == NULL || sep == value ||
			    (size_t)(sep - value) >= sizeof h->name ||
			    strlen(sep + 2) >= sizeof h->value)
				return ph_fail(err, errlen, PH_EBADREQ, "spool header field malformed");
			h = &rec->header[rec->nheaders++];
			memcpy(h->name, value, (size_t)(sep - value));
			h->name[sep - value] = '\0';
			ph_strlcpy(h->value, sep + 2, sizeof h->value);
			break;
		}
		case K_BODY_LENGTH:
			if (!ph_parse_u64(value, SIZE_MAX, &body_len))
				return ph_fail(err, errlen, PH_EBADREQ, "spool body-length malformed");
			break;
		case K_BODY_SHA256:
			if (strlen(value) != PH_SHA256_HEX_LEN)
				return ph_fail(err, errlen, PH_EBADREQ, "spool body-sha256 malformed");
			ph_strlcpy(want_sha, value, sizeof want_sha);
			break;
		}
		p = nl + 1;
	}
	for (k = 0; k < K__COUNT; k++)
		if (!seen[k] && k != K_HEADER)
			return ph_fail(err, errlen, PH_EBADREQ, "spool field %s missing", keys[k]);
	if ((uint64_t)(end - p) != body_len)
		return ph_fail(err, errlen, PH_EBADREQ,
		    "spool body is %zu bytes, header says %llu", (size_t)(end - p),
		    (unsigned long long)body_len);
	ph_sha256_hex(p, (size_t)body_len, sha);
	if (strcmp(sha, want_sha) != 0)
		return ph_fail(err, errlen, PH_EBADREQ, "spool body does not match its SHA-256");
	if (rec->endpoint[0] == '\0' || rec->received_at[0] == '\0')
		return ph_fail(err, errlen, PH_EBADREQ, "spool endpoint or received-at empty");
	rec->body = p;
	rec->body_len = (size_t)body_len;
	return PH_OK;
}

/* ---- the directory ------------------------------------------------------- */

void
ph_spool_name(int64_t received_us, char name[PH_SPOOL_NAME_MAX])
{
	static unsigned counter;

	snprintf(name, PH_SPOOL_NAME_MAX, "%017lld-%010ld-%010u%s",
	    (long long)(received_us < 0 ? 0 : received_us), (long)getpid(), counter++,
	    PH_SPOOL_SUFFIX);
}

static bool
is_spool_name(const char *name)
{
	size_t len = strlen(name), slen = strlen(PH_SPOOL_SUFFIX);

	return name[0] != '.' && len > slen && len < PH_SPOOL_NAME_MAX &&
	    strcmp(name + len - slen, PH_SPOOL_SUFFIX) == 0;
}

static bool
join(char *out, size_t outlen, const char *dir, const char *name)
{
	return (size_t)snprintf(out, outlen, "%s/%s", dir, name) < outlen;
}

static enum ph_err
fsync_dir(const char *dir, char *err, size_t errlen)
{
	int fd = open(dir, O_RDONLY | O_DIRECTORY | O_CLOEXEC);
	int saved;

	if (fd < 0)
		return ph_fail(err, errlen, PH_EIO, "cannot open %s: %s", dir, strerror(errno));
	if (fsync(fd) != 0) {
		saved = errno;
		close(fd);
		return ph_fail(err, errlen, PH_EIO, "cannot fsync %s: %s", dir, strerror(saved));
	}
	close(fd);
	return PH_OK;
}

static enum ph_err
ensure_dir(const char *dir, char *err, size_t errlen)
{
	struct stat st;

	if (mkdir(dir, 0700) != 0 && errno != EEXIST)
		return ph_fail(err, errlen, PH_EIO, "cannot create %s: %s", dir, strerror(errno));
	if (stat(dir, &st) != 0)
		return ph_fail(err, errlen, PH_EIO, "cannot stat %s: %s", dir, strerror(errno));
	if (!S_ISDIR(st.st_mode))
		return ph_fail(err, errlen, PH_EIO, "%s is not a directory", dir);
	return PH_OK;
}

/* Writes len bytes to a new file at path (0600) and fsyncs it. */
static enum ph_err
write_new_file(const char *path, const char *data, size_t len, char *err, size_t errlen)
{
	size_t done = 0;
	int fd, saved;

	fd = open(path, O_WRONLY | O_CREAT | O_EXCL | O_CLOEXEC | O_NOFOLLOW, 0600);
	if (fd < 0)
		return ph_fail(err, errlen, PH_EIO, "cannot create %s: %s", path, strerror(errno));
	while (done < len) {
		ssize_t n = write(fd, data + done, len - done);

		if (n < 0 && errno == EINTR)
			continue;
		if (n <= 0)
			goto fail;
		done += (size_t)n;
	}
	if (fsync(fd) != 0)
		goto fail;
	if (close(fd) != 0) {
		fd = -1;
		goto fail;
	}
	return PH_OK;
fail:
	saved = errno;
	if (fd >= 0)
		close(fd);
	unlink(path);
	return ph_fail(err, errlen, PH_EIO, "cannot write %s: %s", path,
	    strerror(saved != 0 ? saved : EIO));
}

enum ph_err
ph_spool_write(const char *dir, const struct ph_spool_record *rec, int64_t received_us,
    char name[PH_SPOOL_NAME_MAX], char *err, size_t errlen)
{
	char tmp[PATH_MAX], final[PATH_MAX];
	char *buf = NULL;
	size_t len;
	enum ph_err e;

	e = ensure_dir(dir, err, errlen);
	if (e != PH_OK)
		return e;
	e = ph_spool_encode(rec, &buf, &len, err, errlen);
	if (e != PH_OK)
		return e;
	ph_spool_name(received_us, name);
	if (!join(final, sizeof final, dir, name) ||
	    (size_t)snprintf(tmp, sizeof tmp, "%s/%s%s", dir, PH_SPOOL_TMP_PREFIX, name) >=
	    sizeof tmp) {
		e = ph_fail(err, errlen, PH_EIO, "spool_dir path too long");
		goto out;
	}
	e = write_new_file(tmp, buf, len, err, errlen);
	if (e != PH_OK)
		goto out;
	if (rename(tmp, final) != 0) {
		e = ph_fail(err, errlen, PH_EIO, "cannot rename %s: %s", tmp, strerror(errno));
		unlink(tmp);
		goto out;
	}
	e = fsync_dir(dir, err, errlen);
	if (e != PH_OK)
		/* Not known to be durable: do not acknowledge it, and do not
		 * leave it to be applied twice after the provider's retry. */
		unlink(final);
out:
	free(buf);
	return e;
}

bool
ph_spool_pending(const char *dir)
{
	DIR *d = opendir(dir);
	struct dirent *de;
	bool found = false;

	if (d == NULL)
		return false;
	while (!found && (de = readdir(d)) != NULL)
		found = is_spool_name(de->d_name);
	closedir(d);
	return found;
}

int
ph_spool_oldest(const char *dir, char (*names)[PH_SPOOL_NAME_MAX], int max,
    size_t *total, char *err, size_t errlen)
{
	DIR *d = opendir(dir);
	struct dirent *de;
	size_t count = 0;
	int n = 0, i;

	if (total != NULL)
		*total = 0;
	if (d == NULL) {
		if (errno == ENOENT)
			return 0;
		ph_fail(err, errlen, PH_EIO, "cannot read %s: %s", dir, strerror(errno));
		return -1;
	}
	/* Keeps the max smallest names, sorted, by insertion: the spool may
	 * hold many files, and a batch needs only the oldest few. */
	while ((de = readdir(d)) != NULL) {
		if (!is_spool_name(de->d_name))
			continue;
		count++;
		if (max <= 0)
			continue;
		if (n == max && strcmp(de->d_name, names[n - 1]) >= 0)
			continue;
		i = n < max ? n++ : n - 1;
		while (i > 0 && strcmp(de->d_name, names[i - 1]) < 0) {
			memcpy(names[i], names[i - 1], PH_SPOOL_NAME_MAX);
			i--;
		}
		ph_strlcpy(names[i], de->d_name, PH_SPOOL_NAME_MAX);
	}
	closedir(d);
	if (total != NULL)
		*total = count;
	return n;
}

static int
cmp_names(const void *a, const void *b)
{
	return strcmp(*(char *const *)a, *(char *const *)b);
}

/* The age in seconds of a temporary file of a killed writer, or -1 when
 * name is not one (not a temporary name, too young, or gone). */
static long long
stale_tmp_age(int fd, const char *name, time_t now)
{
	size_t plen = strlen(PH_SPOOL_TMP_PREFIX);
	struct stat st;

	if (strncmp(name, PH_SPOOL_TMP_PREFIX, plen) != 0 || name[plen] == '\0')
		return -1;
	if (fstatat(fd, name, &st, AT_SYMLINK_NOFOLLOW) != 0 || !S_ISREG(st.st_mode))
		return -1;
	if (now - st.st_mtime <= PH_SPOOL_TMP_STALE_SECONDS)
		return -1;
	return (long long)(now - st.st_mtime);
}

/* The spool files (tmp: the stale temporary files) of path, sorted (see
 * ph_spool_list). */
static char **
list_names(const char *path, bool tmp, size_t *n, char *err, size_t errlen)
{
	char **names = NULL, **grown;
	size_t cap = 0;
	struct dirent *de;
	time_t now = time(NULL);
	DIR *d;

	*n = 0;
	d = opendir(path);
	if (d == NULL && errno != ENOENT) {
		ph_fail(err, errlen, PH_EIO, "cannot read %s: %s", path, strerror(errno));
		return NULL;
	}
	while (d != NULL && (de = readdir(d)) != NULL) {
		if (tmp ? stale_tmp_age(dirfd(d), de->d_name, now) < 0 : !is_spool_name(de->d_name))
			continue;
		if (*n == cap) {
			cap = cap == 0 ? 64 : cap * 2;
			grown = realloc(names, cap * sizeof *names);
			if (grown == NULL)
				goto nomem;
			names = grown;
		}
		names[*n] = strdup(de->d_name);
		if (names[*n] == NULL)
			goto nomem;
		(*n)++;
	}
	if (d != NULL)
		closedir(d);
	if (names == NULL) {
		/* An empty list is still a list: one slot the caller frees. */
		names = calloc(1, sizeof *names);
		if (names == NULL) {
			d = NULL;
			goto nomem;
		}
	}
	qsort(names, *n, sizeof *names, cmp_names);
	return names;
nomem:
	if (d != NULL)
		closedir(d);
	ph_spool_list_free(names, *n);
	*n = 0;
	ph_fail(err, errlen, PH_ENOMEM, "out of memory");
	return NULL;
}

char **
ph_spool_stale_tmp(const char *dir, size_t *n, char *err, size_t errlen)
{
	return list_names(dir, true, n, err, errlen);
}

long
ph_spool_remove_stale_tmp(const char *dir, char *err, size_t errlen)
{
	char path[PATH_MAX];
	char **names;
	size_t n, i;
	long removed = 0;

	names = ph_spool_stale_tmp(dir, &n, err, errlen);
	if (names == NULL)
		return -1;
	for (i = 0; i < n; i++) {
		if (!join(path, sizeof path, dir, names[i])) {
			ph_fail(err, errlen, PH_EIO, "spool_dir path too long");
			removed = -1;
			break;
		}
		if (unlink(path) == 0) {
			removed++;
		} else if (errno != ENOENT) {
			ph_fail(err, errlen, PH_EIO, "cannot remove %s: %s", path, strerror(errno));
			removed = -1;
			break;
		}
	}
	ph_spool_list_free(names, n);
	/* No directory fsync: a removal that does not last is done again. */
	return removed;
}

char **
ph_spool_list(const char *dir, bool failed, size_t *n, char *err, size_t errlen)
{
	char path[PATH_MAX];

	*n = 0;
	if (!(failed ? join(path, sizeof path, dir, PH_SPOOL_FAILED) :
	    (size_t)snprintf(path, sizeof path, "%s", dir) < sizeof path)) {
		ph_fail(err, errlen, PH_EIO, "spool_dir path too long");
		return NULL;
	}
	return list_names(path, false, n, err, errlen);
}

void
ph_spool_list_free(char **names, size_t n)
{
	size_t i;

	if (names == NULL)
		return;
	for (i = 0; i < n; i++)
		free(names[i]);
	free(names);
}

long
ph_spool_failed_count(const char *dir, char *err, size_t errlen)
{
	char path[PATH_MAX];
	DIR *d;
	struct dirent *de;
	long n = 0;

	if (!join(path, sizeof path, dir, PH_SPOOL_FAILED)) {
		ph_fail(err, errlen, PH_EIO, "spool_dir path too long");
		return -1;
	}
	d = opendir(path);
	if (d == NULL) {
		if (errno == ENOENT)
			return 0;
		ph_fail(err, errlen, PH_EIO, "cannot read %s: %s", path, strerror(errno));
		return -1;
	}
	while ((de = readdir(d)) != NULL)
		if (is_spool_name(de->d_name))
			n++;
	closedir(d);
	return n;
}

enum ph_err
ph_spool_summarize(const char *dir, struct ph_spool_summary *s, char *err, size_t errlen)
{
	char oldest[1][PH_SPOOL_NAME_MAX];
	char **stale;
	int n;

	memset(s, 0, sizeof *s);
	n = ph_spool_oldest(dir, oldest, 1, &s->waiting, err, errlen);
	if (n < 0 || (s->failed = ph_spool_failed_count(dir, err, errlen)) < 0)
		goto fail;
	stale = ph_spool_stale_tmp(dir, &s->stale_tmp, err, errlen);
	if (stale == NULL)
		goto fail;
	ph_spool_list_free(stale, s->stale_tmp);
	/* A name starts with the time received, in microseconds. */
	if (n > 0)
		s->oldest_us = strtoll(oldest[0], NULL, 10);
	return PH_OK;
fail:
	memset(s, 0, sizeof *s);
	return PH_EIO;
}

int
ph_spool_lock(const char *dir, char *err, size_t errlen)
{
	char path[PATH_MAX];
	int fd;

	if (!join(path, sizeof path, dir, PH_SPOOL_LOCK)) {
		ph_fail(err, errlen, PH_EIO, "spool_dir path too long");
		return -2;
	}
	fd = open(path, O_RDWR | O_CREAT | O_CLOEXEC | O_NOFOLLOW, 0600);
	if (fd < 0) {
		ph_fail(err, errlen, PH_EIO, "cannot open %s: %s", path, strerror(errno));
		return -2;
	}
	if (flock(fd, LOCK_EX | LOCK_NB) != 0) {
		int saved = errno;

		close(fd);
		if (saved == EWOULDBLOCK)
			return -1;
		ph_fail(err, errlen, PH_EIO, "cannot lock %s: %s", path, strerror(saved));
		return -2;
	}
	return fd;
}

void
ph_spool_unlock(int fd)
{
	if (fd >= 0)
		close(fd); /* releases the flock */
}

enum ph_err
ph_spool_read(const char *dir, const char *name, char **buf, size_t *len,
    char *err, size_t errlen)
{
	char path[PATH_MAX];
	struct stat st;
	size_t got = 0;
	char *b;
	int fd;

	*buf = NULL;
	*len = 0;
	if (!join(path, sizeof path, dir, name))
		return ph_fail(err, errlen, PH_EIO, "spool_dir path too long");
	fd = open(path, O_RDONLY | O_CLOEXEC | O_NOFOLLOW);
	if (fd < 0)
		return ph_fail(err, errlen, PH_EIO, "cannot open %s: %s", path, strerror(errno));
	if (fstat(fd, &st) != 0 || !S_ISREG(st.st_mode) ||
	    st.st_size > (off_t)(PH_SPOOL_HEAD_MAX + (64 << 20))) {
		close(fd);
		return ph_fail(err, errlen, PH_EBADREQ, "%s is not a spool file of a sane size", name);
	}
	b = malloc((size_t)st.st_size + 1);
	if (b == NULL) {
		close(fd);
		return ph_fail(err, errlen, PH_ENOMEM, "out of memory");
	}
	while (got < (size_t)st.st_size) {
		ssize_t n = read(fd, b + got, (size_t)st.st_size - got);

		if (n < 0 && errno == EINTR)
			continue;
		if (n <= 0)
			break;
		got += (size_t)n;
	}
	close(fd);
	if (got != (size_t)st.st_size) {
		free(b);
		return ph_fail(err, errlen, PH_EIO, "cannot read %s", path);
	}
	b[got] = '\0';
	*buf = b;
	*len = got;
	return PH_OK;
}

enum ph_err
ph_spool_remove_many(const char *dir, const char *const *names, size_t n, char *err,
    size_t errlen)
{
	char path[PATH_MAX];
	size_t i;

	for (i = 0; i < n; i++) {
		if (!join(path, sizeof path, dir, names[i]))
			return ph_fail(err, errlen, PH_EIO, "spool_dir path too long");
		if (unlink(path) != 0 && errno != ENOENT)
			return ph_fail(err, errlen, PH_EIO, "cannot remove %s: %s", path,
			    strerror(errno));
	}
	return n > 0 ? fsync_dir(dir, err, errlen) : PH_OK;
}

enum ph_err
ph_spool_set_aside(const char *dir, const char *name, const char *why,
    char *err, size_t errlen)
{
	char failed[PATH_MAX], from[PATH_MAX], to[PATH_MAX], note[PATH_MAX];
	char text[PH_ERRLEN + 2];
	size_t len;
	enum ph_err e;

	if (!join(failed, sizeof failed, dir, PH_SPOOL_FAILED) ||
	    !join(from, sizeof from, dir, name) || !join(to, sizeof to, failed, name) ||
	    (size_t)snprintf(note, sizeof note, "%s.error", to) >= sizeof note)
		return ph_fail(err, errlen, PH_EIO, "spool_dir path too long");
	e = ensure_dir(failed, err, errlen);
	if (e != PH_OK)
		return e;
	/* The reason first: a file in failed/ always has one. */
	ph_sanitize(text, sizeof text - 1, why, strlen(why));
	len = strlen(text);
	text[len++] = '\n';
	unlink(note);
	e = write_new_file(note, text, len, err, errlen);
	if (e != PH_OK)
		return e;
	if (rename(from, to) != 0)
		return ph_fail(err, errlen, PH_EIO, "cannot move %s to %s: %s", from, failed,
		    strerror(errno));
	e = fsync_dir(failed, err, errlen);
	if (e == PH_OK)
		e = fsync_dir(dir, err, errlen);
	return e;
}
