#include "config.h"

#include <errno.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <strings.h>
#include <sys/stat.h>

#include "conf.h"
#include "util.h"

#ifndef PH_SYSCONFDIR
#define PH_SYSCONFDIR "/etc"
#endif
#ifndef PH_LOCALSTATEDIR
#define PH_LOCALSTATEDIR "/var"
#endif

const struct ph_conf_def ph_conf_defs[PH_CONF__COUNT] = {
	[PH_CONF_DATABASE] = {"database", "PAYHOOK_DATABASE", PH_CT_SECRET, NULL,
	    "libpq connection string (default: libpq's own defaults)"},
	[PH_CONF_SPOOL_DIR] = {"spool_dir", "PAYHOOK_SPOOL_DIR", PH_CT_STRING,
	    PH_LOCALSTATEDIR "/spool/payhook", "where deliveries wait while the database is down"},
	[PH_CONF_MAX_BODY_BYTES] = {"max_body_bytes", "PAYHOOK_MAX_BODY_BYTES", PH_CT_SIZE,
	    "1048576", "largest request body accepted; larger gets 413"},
	[PH_CONF_STEPPAY_V2_SECRET] = {"steppay_v2_secret", "PAYHOOK_STEPPAY_V2_SECRET",
	    PH_CT_SECRET, NULL, "StepPay v2 verification keys, comma-separated"},
	[PH_CONF_STEPPAY_V2_MAX_AGE] = {"steppay_v2_max_age", "PAYHOOK_STEPPAY_V2_MAX_AGE",
	    PH_CT_SECONDS, "0", "refuse signed StepPay v2 deliveries older than this (0 = off)"},
	[PH_CONF_STEPPAY_V1_TOKEN] = {"steppay_v1_token", "PAYHOOK_STEPPAY_V1_TOKEN",
	    PH_CT_SECRET, NULL, "the StepPay v1 URL must carry ?token=<this> (empty = not required)"},
	[PH_CONF_STEPPAY_API_KEY] = {"steppay_api_key", "PAYHOOK_STEPPAY_API_KEY",
	    PH_CT_SECRET, NULL, "StepPay Secret-Token for API calls"},
	[PH_CONF_STEPPAY_API_URL] = {"steppay_api_url", "PAYHOOK_STEPPAY_API_URL",
	    PH_CT_STRING, "https://api.steppay.kr", "StepPay API base URL"},
	[PH_CONF_NICEPAY_CLIENT_KEY] = {"nicepay_client_key", "PAYHOOK_NICEPAY_CLIENT_KEY",
	    PH_CT_STRING, NULL, "NicePay client key"},
	[PH_CONF_NICEPAY_SECRET_KEY] = {"nicepay_secret_key", "PAYHOOK_NICEPAY_SECRET_KEY",
	    PH_CT_SECRET, NULL, "NicePay secret keys, comma-separated; the first is used for API calls"},
	[PH_CONF_NICEPAY_API_URL] = {"nicepay_api_url", "PAYHOOK_NICEPAY_API_URL",
	    PH_CT_STRING, "https://api.nicepay.co.kr", "NicePay API base URL"},
	[PH_CONF_ALLOW_FROM] = {"allow_from", "PAYHOOK_ALLOW_FROM", PH_CT_CIDR, NULL,
	    "addresses (CIDR) allowed to post to every endpoint (empty = any)"},
	[PH_CONF_ALLOW_FROM_STEPPAY_V1] = {"allow_from_steppay_v1", "PAYHOOK_ALLOW_FROM_STEPPAY_V1",
	    PH_CT_CIDR, NULL, "allow_from for steppay-v1 only"},
	[PH_CONF_ALLOW_FROM_STEPPAY_V2] = {"allow_from_steppay_v2", "PAYHOOK_ALLOW_FROM_STEPPAY_V2",
	    PH_CT_CIDR, NULL, "allow_from for steppay-v2 only"},
	[PH_CONF_ALLOW_FROM_NICEPAY] = {"allow_from_nicepay", "PAYHOOK_ALLOW_FROM_NICEPAY",
	    PH_CT_CIDR, NULL, "allow_from for nicepay only"},
	[PH_CONF_TRUSTED_PROXY] = {"trusted_proxy", "PAYHOOK_TRUSTED_PROXY", PH_CT_CIDR, NULL,
	    "proxies whose X-Forwarded-For is believed"},
	[PH_CONF_PROVIDER_TIMEZONE] = {"provider_timezone", "PAYHOOK_PROVIDER_TIMEZONE",
	    PH_CT_STRING, "UTC", "time zone of StepPay's zone-less date-times"},
	[PH_CONF_REQUIRE_LEAST_PRIVILEGE] = {"require_least_privilege",
	    "PAYHOOK_REQUIRE_LEAST_PRIVILEGE", PH_CT_BOOL, "no",
	    "refuse to run connected as a database superuser"},
	[PH_CONF_CHECK_SPOOL_AGE] = {"check_spool_age", "PAYHOOK_CHECK_SPOOL_AGE",
	    PH_CT_SECONDS, "300", "status --check: critical when a delivery waits this long in the spool"},
	[PH_CONF_CHECK_REJECTED] = {"check_rejected", "PAYHOOK_CHECK_REJECTED",
	    PH_CT_COUNT, "5", "status --check: critical at this many rejected deliveries (0 = off)"},
	[PH_CONF_CHECK_REJECTED_WINDOW] = {"check_rejected_window", "PAYHOOK_CHECK_REJECTED_WINDOW",
	    PH_CT_SECONDS, "900", "status --check: the time check_rejected counts over"},
	[PH_CONF_CHECK_QUIET] = {"check_quiet", "PAYHOOK_CHECK_QUIET",
	    PH_CT_SECONDS, "86400", "status --check: warn after this long without a delivery (0 = off)"},
	[PH_CONF_CHECK_VBANK_GRACE] = {"check_vbank_grace", "PAYHOOK_CHECK_VBANK_GRACE",
	    PH_CT_SECONDS, "3600", "status --check: warn this long after a virtual account's deadline"},
	[PH_CONF_CHECK_PAYMENT_GRACE] = {"check_payment_grace", "PAYHOOK_CHECK_PAYMENT_GRACE",
	    PH_CT_SECONDS, "86400", "status --check: warn this long after a subscription's payment date"},
	[PH_CONF_CHECK_PENDING_AFTER] = {"check_pending_after", "PAYHOOK_CHECK_PENDING_AFTER",
	    PH_CT_SECONDS, "3600", "status --check: warn when verification stays pending this long"},
};

const char *
ph_config_default_path(void)
{
	return PH_SYSCONFDIR "/payhook.conf";
}

void
ph_config_free(struct ph_config *cfg)
{
	size_t i;

	if (cfg == NULL)
		return;
	for (i = 0; i < PH_CONF__COUNT; i++)
		free(cfg->value[i]);
	free(cfg->path);
	free(cfg);
}

static char *
trim(char *s)
{
	char *end;

	while (*s == ' ' || *s == '\t')
		s++;
	end = s + strlen(s);
	while (end > s && (end[-1] == ' ' || end[-1] == '\t' || end[-1] == '\r' ||
	    end[-1] == '\n'))
		*--end = '\0';
	return s;
}

static int
find_key(const char *name)
{
	size_t i;

	for (i = 0; i < PH_CONF__COUNT; i++)
		if (strcmp(ph_conf_defs[i].name, name) == 0)
			return (int)i;
	return -1;
}

static enum ph_err
set_value(struct ph_config *cfg, size_t key, const char *v, enum ph_conf_origin origin,
    char *err, size_t errlen)
{
	char *copy = strdup(v);

	if (copy == NULL)
		return ph_fail(err, errlen, PH_ENOMEM, "out of memory");
	free(cfg->value[key]);
	cfg->value[key] = copy;
	cfg->origin[key] = origin;
	return PH_OK;
}

/* Parses the file's text (NUL-terminated, owned by the caller). */
static enum ph_err
parse_text(struct ph_config *cfg, char *text, char *err, size_t errlen)
{
	char *line, *next;
	unsigned int lineno = 0;
	enum ph_err e;

	for (line = text; line != NULL; line = next) {
		char *eq, *name, *value;
		int key;

		lineno++;
		next = strchr(line, '\n');
		if (next != NULL)
			*next++ = '\0';
		if (strlen(line) > PH_CONF_MAX_LINE)
			return ph_fail(err, errlen, PH_ECONFIG, "%s:%u: line longer than %d bytes",
			    cfg->path, lineno, PH_CONF_MAX_LINE);
		name = trim(line);
		if (*name == '\0' || *name == '#')
			continue;
		eq = strchr(name, '=');
		if (eq == NULL)
			return ph_fail(err, errlen, PH_ECONFIG,
			    "%s:%u: expected 'key = value'", cfg->path, lineno);
		*eq = '\0';
		name = trim(name);
		value = trim(eq + 1);
		key = find_key(name);
		if (key < 0)
			/* A mistyped key (allow_fom) silently ignored could
			 * leave an endpoint open: refuse it. */
			return ph_fail(err, errlen, PH_ECONFIG, "%s:%u: unknown key '%.64s'",
			    cfg->path, lineno, name);
		if (cfg->origin[key] == PH_ORIGIN_FILE)
			return ph_fail(err, errlen, PH_ECONFIG, "%s:%u: '%s' given twice",
			    cfg->path, lineno, name);
		e = set_value(cfg, (size_t)key, value, PH_ORIGIN_FILE, err, errlen);
		if (e != PH_OK)
			return e;
	}
	return PH_OK;
}

/* Webhook URLs and hosting accounts are shared with strangers; a file any
 * local user can read must not hold the secrets that authenticate
 * deliveries. Secrets from the environment are not the file's concern. */
static enum ph_err
refuse_readable_secrets(const struct ph_config *cfg, unsigned mode, char *err, size_t errlen)
{
	size_t i;

	for (i = 0; i < PH_CONF__COUNT; i++) {
		if (ph_conf_defs[i].type == PH_CT_SECRET && cfg->origin[i] == PH_ORIGIN_FILE &&
		    cfg->value[i] != NULL && cfg->value[i][0] != '\0')
			return ph_fail(err, errlen, PH_ECONFIG,
			    "%s holds %s but every user can read it (mode %04o): "
			    "chmod o-r it (0640, group of the web server) or pass secrets "
			    "in PAYHOOK_* variables", cfg->path, ph_conf_defs[i].name, mode);
	}
	return PH_OK;
}

static enum ph_err
read_file(struct ph_config *cfg, bool explicit_path, char *err, size_t errlen)
{
	FILE *f;
	struct stat st;
	char *text = NULL;
	size_t got;
	enum ph_err e;

	f = fopen(cfg->path, "r");
	if (f == NULL) {
		if (errno == ENOENT && !explicit_path)
			return PH_OK;
		return ph_fail(err, errlen, PH_ECONFIG, "cannot read %s: %s",
		    cfg->path, strerror(errno));
	}
	if (fstat(fileno(f), &st) != 0 || !(S_ISREG(st.st_mode) || S_ISCHR(st.st_mode))) {
		e = ph_fail(err, errlen, PH_ECONFIG, "%s is not a regular file", cfg->path);
		goto out;
	}
	if (st.st_size > PH_CONF_MAX_FILE) {
		e = ph_fail(err, errlen, PH_ECONFIG, "%s is larger than %d bytes",
		    cfg->path, PH_CONF_MAX_FILE);
		goto out;
	}
	cfg->file_found = true;
	cfg->dev = st.st_dev;
	cfg->ino = st.st_ino;
	cfg->mode = st.st_mode;
	cfg->size = st.st_size;
	cfg->mtime_ns = (long long)st.st_mtim.tv_sec * 1000000000LL + st.st_mtim.tv_nsec;
	text = malloc((size_t)st.st_size + 1);
	if (text == NULL) {
		e = ph_fail(err, errlen, PH_ENOMEM, "out of memory");
		goto out;
	}
	got = fread(text, 1, (size_t)st.st_size, f);
	text[got] = '\0';
	if (memchr(text, '\0', got) != NULL) {
		e = ph_fail(err, errlen, PH_ECONFIG, "%s contains a NUL byte", cfg->path);
		goto out;
	}
	e = parse_text(cfg, text, err, errlen);
	if (e == PH_OK && S_ISREG(st.st_mode) && (st.st_mode & S_IWOTH) != 0)
		/* Anyone could change the database, the secrets, the allowlist. */
		e = ph_fail(err, errlen, PH_ECONFIG, "%s is writable by every user (mode %04o): "
		    "chmod o-w it", cfg->path, (unsigned)(st.st_mode & 07777));
	if (e == PH_OK && S_ISREG(st.st_mode) && (st.st_mode & S_IROTH) != 0)
		e = refuse_readable_secrets(cfg, (unsigned)(st.st_mode & 07777), err, errlen);
out:
	free(text);
	fclose(f);
	return e;
}

static bool
parse_bool(const char *s, bool *out)
{
	static const char *const yes[] = {"yes", "true", "on", "1"};
	static const char *const no[] = {"no", "false", "off", "0"};
	size_t i;

	for (i = 0; i < PH_ARRAY_LEN(yes); i++) {
		if (strcasecmp(s, yes[i]) == 0) {
			*out = true;
			return true;
		}
		if (strcasecmp(s, no[i]) == 0) {
			*out = false;
			return true;
		}
	}
	return false;
}

/* Checks every typed value and fills the parsed fields. */
static enum ph_err
validate(struct ph_config *cfg, char *err, size_t errlen)
{
	char why[PH_ERRLEN];
	size_t i;

	for (i = 0; i < PH_CONF__COUNT; i++) {
		const struct ph_conf_def *d = &ph_conf_defs[i];
		const char *v = cfg->value[i];
		const char *where = cfg->origin[i] == PH_ORIGIN_ENV ? d->env : d->name;
		uint64_t n;
		bool b;

		if (v == NULL || *v == '\0')
			continue;
		switch (d->type) {
		case PH_CT_SIZE:
			if (!ph_parse_u64(v, PH_MAX_BODY_LIMIT, &n) || n == 0)
				return ph_fail(err, errlen, PH_ECONFIG,
				    "%s: expected a number of bytes from 1 to %u, got '%.32s'",
				    where, PH_MAX_BODY_LIMIT, v);
			if (i == PH_CONF_MAX_BODY_BYTES)
				cfg->max_body_bytes = (size_t)n;
			break;
		case PH_CT_SECONDS:
			if (!ph_parse_u64(v, UINT32_MAX, &n))
				return ph_fail(err, errlen, PH_ECONFIG,
				    "%s: expected a number of seconds, got '%.32s'", where, v);
			if (i == PH_CONF_STEPPAY_V2_MAX_AGE)
				cfg->steppay_v2_max_age = (unsigned long)n;
			break;
		case PH_CT_COUNT:
			if (!ph_parse_u64(v, UINT32_MAX, &n))
				return ph_fail(err, errlen, PH_ECONFIG,
				    "%s: expected a whole number, got '%.32s'", where, v);
			break;
		case PH_CT_BOOL:
			if (!parse_bool(v, &b))
				return ph_fail(err, errlen, PH_ECONFIG,
				    "%s: expected yes or no, got '%.32s'", where, v);
			if (i == PH_CONF_REQUIRE_LEAST_PRIVILEGE)
				cfg->require_least_privilege = b;
			break;
		case PH_CT_CIDR:
			if (ph_cidr_list_parse(v, &cfg->cidr[i], why, sizeof why) != PH_OK)
				return ph_fail(err, errlen, PH_ECONFIG, "%s: %s", where, why);
			break;
		case PH_CT_STRING:
		case PH_CT_SECRET:
			break;
		}
	}
	return PH_OK;
}

/* A config named path holding only the defaults, or NULL with err set.
 * The caller frees it with ph_config_free(). */
static struct ph_config *
config_new(const char *path, char *err, size_t errlen)
{
	struct ph_config *cfg;
	size_t i;

	cfg = calloc(1, sizeof *cfg);
	if (cfg == NULL) {
		ph_fail(err, errlen, PH_ENOMEM, "out of memory");
		return NULL;
	}
	cfg->path = strdup(path);
	if (cfg->path == NULL) {
		ph_fail(err, errlen, PH_ENOMEM, "out of memory");
		goto fail;
	}
	for (i = 0; i < PH_CONF__COUNT; i++) {
		if (ph_conf_defs[i].def != NULL &&
		    set_value(cfg, i, ph_conf_defs[i].def, PH_ORIGIN_DEFAULT, err, errlen) != PH_OK)
			goto fail;
	}
	return cfg;
fail:
	ph_config_free(cfg);
	return NULL;
}

struct ph_config *
ph_config_parse(const char *name, const char *text, size_t len, char *err, size_t errlen)
{
	struct ph_config *cfg;
	char *copy = NULL;

	if (len > PH_CONF_MAX_FILE) {
		ph_fail(err, errlen, PH_ECONFIG, "%s is larger than %d bytes", name,
		    PH_CONF_MAX_FILE);
		return NULL;
	}
	if (memchr(text, '\0', len) != NULL) {
		ph_fail(err, errlen, PH_ECONFIG, "%s contains a NUL byte", name);
		return NULL;
	}
	cfg = config_new(name, err, errlen);
	if (cfg == NULL)
		return NULL;
	copy = malloc(len + 1);
	if (copy == NULL) {
		ph_fail(err, errlen, PH_ENOMEM, "out of memory");
		goto fail;
	}
	memcpy(copy, text, len);
	copy[len] = '\0';
	if (parse_text(cfg, copy, err, errlen) != PH_OK ||
	    validate(cfg, err, errlen) != PH_OK)
		goto fail;
	free(copy);
	return cfg;
fail:
	free(copy);
	ph_config_free(cfg);
	return NULL;
}

struct ph_config *
ph_config_load(const char *path, bool explicit_path, char *err, size_t errlen)
{
	struct ph_config *cfg;
	size_t i;

	cfg = config_new(path != NULL ? path : ph_config_default_path(), err, errlen);
	if (cfg == NULL)
		return NULL;
	if (read_file(cfg, explicit_path, err, errlen) != PH_OK)
		goto fail;
	for (i = 0; i < PH_CONF__COUNT; i++) {
		const char *env = getenv(ph_conf_defs[i].env);

		if (env != NULL && set_value(cfg, i, env, PH_ORIGIN_ENV, err, errlen) != PH_OK)
			goto fail;
	}
	if (validate(cfg, err, errlen) != PH_OK)
		goto fail;
	return cfg;
fail:
	ph_config_free(cfg);
	return NULL;
}

const char *
ph_config_get(const struct ph_config *cfg, enum ph_conf_key key)
{
	const char *v = cfg->value[key];

	return v != NULL && *v != '\0' ? v : NULL;
}

const struct ph_cidr_list *
ph_config_allowlist(const struct ph_config *cfg, enum ph_conf_key key)
{
	if (ph_config_get(cfg, key) != NULL && cfg->cidr[key].n > 0)
		return &cfg->cidr[key];
	if (ph_config_get(cfg, PH_CONF_ALLOW_FROM) != NULL && cfg->cidr[PH_CONF_ALLOW_FROM].n > 0)
		return &cfg->cidr[PH_CONF_ALLOW_FROM];
	return NULL;
}

/* The process keeps the configs it has read, keyed by path: a FastCGI
 * handler serves thousands of requests from one parse. */
static struct ph_config *cache[PH_CONF_CACHE];

static bool
unchanged(const struct ph_config *cfg)
{
	struct stat st;

	if (stat(cfg->path, &st) != 0)
		return !cfg->file_found;
	return cfg->file_found && st.st_dev == cfg->dev && st.st_ino == cfg->ino &&
	    st.st_mode == cfg->mode && st.st_size == cfg->size &&
	    (long long)st.st_mtim.tv_sec * 1000000000LL + st.st_mtim.tv_nsec == cfg->mtime_ns;
}

const struct ph_config *
ph_config_cached(const char *path, char *err, size_t errlen)
{
	const char *want = path != NULL && *path != '\0' ? path : ph_config_default_path();
	struct ph_config *cfg;
	size_t i, slot = PH_CONF_CACHE - 1;

	for (i = 0; i < PH_CONF_CACHE; i++) {
		if (cache[i] == NULL) {
			slot = i;
			break;
		}
		if (strcmp(cache[i]->path, want) == 0) {
			if (unchanged(cache[i]))
				return cache[i];
			slot = i;
			break;
		}
	}
	cfg = ph_config_load(want, path != NULL && *path != '\0', err, errlen);
	if (cfg == NULL)
		return NULL;
	ph_config_free(cache[slot]);
	cache[slot] = cfg;
	return cfg;
}
