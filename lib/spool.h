/* The spool: deliveries that passed authentication while the database
 * could not be reached, kept on disk until they can be applied.
 *
 * One delivery is one file in spool_dir, written to a temporary name
 * (".tmp-..."), fsync'd, renamed and the directory fsync'd, so that a
 * file under its final name is always complete. Names sort in received
 * order: zero-padded microseconds since the epoch, pid, a counter.
 * A file that cannot be applied is moved to spool_dir/failed/ with its
 * reason beside it (NAME.error); nothing is deleted unapplied.
 *
 * A file holds what replaying needs and no secret: the endpoint, the
 * received time, the client address, the media type, the verification
 * result (never a key or a token), provider_timezone as it was, the
 * headers the endpoint verified, and the raw body. This file knows the
 * format and the directory; lib/endpoint.c knows how to apply one. */
#ifndef PH_SPOOL_H
#define PH_SPOOL_H

#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>

#include "delivery.h"
#include "err.h"

#define PH_SPOOL_MAGIC "payhook-spool 1"
#define PH_SPOOL_SUFFIX ".spool"
#define PH_SPOOL_FAILED "failed"      /* subdirectory for files set aside */
#define PH_SPOOL_LOCK ".lock"         /* flock'd by the one drainer */
#define PH_SPOOL_NAME_MAX 64          /* bytes of a file name with NUL */
#define PH_SPOOL_HEADERS_MAX 4        /* verified headers kept per file */
#define PH_SPOOL_FIELD_MAX 512        /* bytes of one decoded value */
#define PH_SPOOL_HEAD_MAX 8192        /* bytes of the encoded header lines */
#define PH_SPOOL_BATCH 32             /* files one drain call applies */
#define PH_SPOOL_TMP_PREFIX ".tmp-"   /* a file being written */
/* A writer renames its temporary file within seconds of creating it (one
 * write and one fsync); one older than this belongs to a writer that was
 * killed, never answered 200, and is removed by the drainer. The margin
 * covers a slow disk and a clock step. */
#define PH_SPOOL_TMP_STALE_SECONDS 600

struct ph_spool_header {
	char name[PH_SPOOL_FIELD_MAX];
	char value[PH_SPOOL_FIELD_MAX];
};

/* One spooled delivery. Strings are "" when absent. */
struct ph_spool_record {
	char endpoint[PH_SPOOL_FIELD_MAX];     /* "steppay-v2" */
	char received_at[PH_SPOOL_FIELD_MAX];  /* as struct ph_delivery has it */
	long long received_unix;
	char remote_addr[PH_SPOOL_FIELD_MAX];  /* after trusted proxies */
	char media_type[PH_SPOOL_FIELD_MAX];   /* the accepted type matched */
	enum ph_tristate signature_valid;
	char timezone[PH_SPOOL_FIELD_MAX];     /* provider_timezone used */
	struct ph_spool_header header[PH_SPOOL_HEADERS_MAX];
	int nheaders;
	const char *body;                      /* see encode and decode */
	size_t body_len;
};

/* Encodes rec (rec->body borrowed) into a buffer the caller frees with
 * free(). PH_EBADREQ when a field does not fit, PH_ENOMEM. */
enum ph_err ph_spool_encode(const struct ph_spool_record *rec, char **out,
    size_t *outlen, char *err, size_t errlen);

/* Decodes len bytes of buf into rec; rec->body then points into buf.
 * PH_EBADREQ, with the reason, for anything but a complete, intact file
 * of this version (the body's length and SHA-256 are checked). */
enum ph_err ph_spool_decode(const char *buf, size_t len,
    struct ph_spool_record *rec, char *err, size_t errlen);

/* The file name for a delivery received at received_us (microseconds
 * since the epoch): sorts in received order, unique per process. */
void ph_spool_name(int64_t received_us, char name[PH_SPOOL_NAME_MAX]);

/* Writes rec durably into dir (created 0700 when missing) as a new file
 * created 0600; its name in name. PH_EIO with the reason on failure,
 * leaving nothing behind. */
enum ph_err ph_spool_write(const char *dir, const struct ph_spool_record *rec,
    int64_t received_us, char name[PH_SPOOL_NAME_MAX], char *err, size_t errlen);

/* True when dir holds at least one file waiting to be applied. */
bool ph_spool_pending(const char *dir);

/* The names of at most max waiting files, oldest first, into names
 * (which may be NULL when max is 0: counting only); returns how many, or
 * -1 with err set when dir cannot be read. A missing dir holds nothing.
 * *total, when not NULL, gets the count of all waiting files. */
int ph_spool_oldest(const char *dir, char (*names)[PH_SPOOL_NAME_MAX], int max,
    size_t *total, char *err, size_t errlen);

/* Every waiting file of dir (failed: of dir/failed/), sorted, as an
 * array of n names; the caller frees it with ph_spool_list_free(). NULL
 * with err set on error; a missing directory is an empty list. */
char **ph_spool_list(const char *dir, bool failed, size_t *n, char *err, size_t errlen);
void ph_spool_list_free(char **names, size_t n);

/* Counts the files in dir/failed/ (their .error companions aside); 0
 * when there is none. -1 with err set when it cannot be read. */
long ph_spool_failed_count(const char *dir, char *err, size_t errlen);

/* What the spool holds, for a person or a monitoring check. */
struct ph_spool_summary {
	size_t waiting;    /* files waiting to be applied */
	int64_t oldest_us; /* the oldest one's time received (0: none) */
	long failed;       /* files set aside in failed/ */
	size_t stale_tmp;  /* temporary files of killed writers */
};

/* Fills s from dir's files (a missing dir holds nothing). PH_EIO with
 * err set, and s zeroed, when dir cannot be read. */
enum ph_err ph_spool_summarize(const char *dir, struct ph_spool_summary *s, char *err,
    size_t errlen);

/* The temporary files of dir last modified more than
 * PH_SPOOL_TMP_STALE_SECONDS ago, sorted, as ph_spool_list gives them
 * (the caller frees them with ph_spool_list_free()). NULL with err set
 * on error; a missing directory is an empty list. */
char **ph_spool_stale_tmp(const char *dir, size_t *n, char *err, size_t errlen);

/* Removes the stale temporary files of dir (see above); returns how many
 * it removed, or -1 with err set when dir cannot be read or a file
 * cannot be removed. */
long ph_spool_remove_stale_tmp(const char *dir, char *err, size_t errlen);

/* Takes the drainer's lock without waiting: a descriptor to pass to
 * ph_spool_unlock, -1 when another process holds it, -2 with err set on
 * error. */
int ph_spool_lock(const char *dir, char *err, size_t errlen);
void ph_spool_unlock(int fd);

/* Reads dir/name into a buffer the caller frees with free(); a NUL
 * follows the *len bytes. */
enum ph_err ph_spool_read(const char *dir, const char *name, char **buf,
    size_t *len, char *err, size_t errlen);

/* Removes n applied files and makes the removals durable with one
 * directory fsync. */
enum ph_err ph_spool_remove_many(const char *dir, const char *const *names, size_t n,
    char *err, size_t errlen);

/* Moves dir/name to dir/failed/name and writes why to
 * dir/failed/name.error (one line). */
enum ph_err ph_spool_set_aside(const char *dir, const char *name, const char *why,
    char *err, size_t errlen);

#endif
