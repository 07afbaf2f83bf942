/* payhook.conf: `key = value` lines, `#` comments, every key overridable
 * by the environment variable PAYHOOK_<KEY>. The keys are the rows of one
 * table in config.c; adding a key is adding a row. */
#ifndef PH_CONF_H
#define PH_CONF_H

#include <stdbool.h>
#include <stddef.h>
#include <sys/types.h>

#include "cidr.h"
#include "err.h"

#define PH_CONF_MAX_LINE    4096     /* bytes in one line of the file */
#define PH_CONF_MAX_FILE    (1 << 20)
#define PH_MAX_BODY_LIMIT   (64u << 20) /* the most max_body_bytes may be */
#define PH_CONF_CACHE       8        /* config paths one process keeps */

enum ph_conf_key {
	PH_CONF_DATABASE,
	PH_CONF_SPOOL_DIR,
	PH_CONF_MAX_BODY_BYTES,
	PH_CONF_STEPPAY_V2_SECRET,
	PH_CONF_STEPPAY_V2_MAX_AGE,
	PH_CONF_STEPPAY_V1_TOKEN,
	PH_CONF_STEPPAY_API_KEY,
	PH_CONF_STEPPAY_API_URL,
	PH_CONF_NICEPAY_CLIENT_KEY,
	PH_CONF_NICEPAY_SECRET_KEY,
	PH_CONF_NICEPAY_API_URL,
	PH_CONF_ALLOW_FROM,
	PH_CONF_ALLOW_FROM_STEPPAY_V1,
	PH_CONF_ALLOW_FROM_STEPPAY_V2,
	PH_CONF_ALLOW_FROM_NICEPAY,
	PH_CONF_TRUSTED_PROXY,
	PH_CONF_PROVIDER_TIMEZONE,
	PH_CONF_REQUIRE_LEAST_PRIVILEGE,
	/* Thresholds of `payhook status --check`. */
	PH_CONF_CHECK_SPOOL_AGE,
	PH_CONF_CHECK_REJECTED,
	PH_CONF_CHECK_REJECTED_WINDOW,
	PH_CONF_CHECK_QUIET,
	PH_CONF_CHECK_VBANK_GRACE,
	PH_CONF_CHECK_PAYMENT_GRACE,
	PH_CONF_CHECK_PENDING_AFTER,
	PH_CONF__COUNT
};

enum ph_conf_type {
	PH_CT_STRING,
	PH_CT_SECRET,   /* never printed or logged */
	PH_CT_SIZE,     /* positive integer, at most PH_MAX_BODY_LIMIT */
	PH_CT_SECONDS,  /* non-negative integer */
	PH_CT_COUNT,    /* non-negative integer */
	PH_CT_BOOL,     /* yes/no, true/false, on/off, 1/0 */
	PH_CT_CIDR      /* address list, see cidr.h */
};

struct ph_conf_def {
	const char *name;         /* key in the file, e.g. "max_body_bytes" */
	const char *env;          /* PAYHOOK_MAX_BODY_BYTES */
	enum ph_conf_type type;
	const char *def;          /* default as text; NULL = unset */
	const char *help;         /* one line for check-config and the man page */
};

extern const struct ph_conf_def ph_conf_defs[PH_CONF__COUNT];

/* Where a value came from, for check-config. */
enum ph_conf_origin {
	PH_ORIGIN_DEFAULT,
	PH_ORIGIN_FILE,
	PH_ORIGIN_ENV
};

struct ph_config {
	char *path;                           /* file read, or NULL */
	bool file_found;
	char *value[PH_CONF__COUNT];          /* NULL = unset */
	enum ph_conf_origin origin[PH_CONF__COUNT];
	/* Parsed forms of the typed keys, filled by ph_config_load. */
	size_t max_body_bytes;
	unsigned long steppay_v2_max_age;
	bool require_least_privilege;
	struct ph_cidr_list cidr[PH_CONF__COUNT]; /* for PH_CT_CIDR keys */
	/* Identity of the file when read, to notice edits (and a chmod that
	 * exposes it: the mode decides whether the file is accepted). */
	dev_t dev;
	ino_t ino;
	mode_t mode;
	off_t size;
	long long mtime_ns;
};

/* Reads path (NULL: the default path, which may be missing) and applies
 * the environment. A path given explicitly must exist. Returns a config
 * the caller frees with ph_config_free(), or NULL with err set. */
struct ph_config *ph_config_load(const char *path, bool explicit_path,
    char *err, size_t errlen);

/* Parses text (len bytes, not NUL-terminated, may hold any byte) as the
 * contents of a configuration file, with the defaults and the same checks
 * of every value, but without a file (no mode or identity checks) and
 * without the environment. name stands for the path in messages. Returns
 * a config the caller frees with ph_config_free(), or NULL with err set. */
struct ph_config *ph_config_parse(const char *name, const char *text, size_t len,
    char *err, size_t errlen);

void ph_config_free(struct ph_config *cfg);

/* The value of key, or NULL when unset or empty. */
const char *ph_config_get(const struct ph_config *cfg, enum ph_conf_key key);

/* The allowlist for an endpoint key (PH_CONF_ALLOW_FROM_*): its own list
 * when set, else allow_from; NULL when neither restricts. */
const struct ph_cidr_list *ph_config_allowlist(const struct ph_config *cfg,
    enum ph_conf_key key);

/* The config for a request, cached per path: path is the PAYHOOK_CONFIG
 * the request or the environment names, or NULL for the default. The file
 * is parsed once and read again only when it changes on disk (one stat per
 * call). The config belongs to the cache; do not free it. */
const struct ph_config *ph_config_cached(const char *path, char *err, size_t errlen);

/* The default path, $(sysconfdir)/payhook.conf. */
const char *ph_config_default_path(void);

#endif
